/** The manager's Workers bundle (scripts/build-edge.ts) on workerd through Miniflare, as the edge tests run it. */
import { Miniflare } from "miniflare";

/** A running Workers manager. */
export interface WorkersManager {
  /** Its base URL, ending in `/`. */
  readonly base: string;
  dispose(): Promise<void>;
}

/** Runs `bundle` on workerd with `env` as text bindings (cron triggers callable); resolves once it listens. */
export async function startWorkersManager(bundle: string, env: Record<string, string>): Promise<WorkersManager> {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    cf: false,
    enableDevRegistry: false,
    telemetry: { enabled: false },
    unsafeTriggerHandlers: true,
    workers: [
      {
        config: {
          name: "libellula-manager",
          compatibilityDate: "2026-09-01",
          compatibilityFlags: ["nodejs_compat"],
          env: Object.fromEntries(Object.entries(env).map(([name, value]) => [name, { type: "text" as const, value }])),
          manifest: { mainModule: "main.edge.js", modules: { "main.edge.js": { type: "esm", contents: bundle } } },
        },
      },
    ],
  });
  const base = (await mf.ready).href;
  return { base, dispose: () => mf.dispose() };
}
