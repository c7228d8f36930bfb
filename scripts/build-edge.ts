/**
 * Bundles the edge manager into one Workers module with wrangler's own bundler, exactly as `wrangler deploy`
 * would upload it (deploy/cloudflare/wrangler.toml: nodejs_compat, PGlite left out, the console inside).
 *
 *   bun scripts/build-edge.ts [--outdir DIR]     (default dist/edge; prints the module's path and upload size)
 *
 * Wrangler wants Node.js 22 or newer; Bun runs it just as well, so it runs under the Bun running this script.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = join(import.meta.dir, "..");
/** The Workers config the bundle is built from. */
export const WRANGLER_CONFIG = join(root, "deploy", "cloudflare", "wrangler.toml");
/** The module wrangler writes: the basename of the config's `main`. */
const MODULE = "main.edge.js";
const DEFAULT_OUTDIR = join(root, "dist", "edge");

/** Runs wrangler with the given arguments from the repository root; throws with its output when it fails. */
export function wrangler(args: string[], env: Record<string, string> = {}): string {
  const cli = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  if (!existsSync(cli)) throw new Error(`Cannot find wrangler at "${cli}": run npm install`);
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", ...env },
    timeout: 300_000,
  });
  if (result.status !== 0) throw new Error(`wrangler ${args[0]} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The bundle wrangler wrote and the upload size it reported ("Total Upload: … KiB / gzip: … KiB"). */
export interface EdgeBuild {
  module: string;
  upload: string;
}

/** Bundles the edge entry into `outdir`. */
export function buildEdge(outdir: string = DEFAULT_OUTDIR): EdgeBuild {
  const output = wrangler(["deploy", "--dry-run", "--config", WRANGLER_CONFIG, "--outdir", resolve(outdir)]);
  const module = join(resolve(outdir), MODULE);
  if (!existsSync(module)) throw new Error(`wrangler wrote no "${MODULE}" in "${outdir}"`);
  const upload = /Total Upload:\s*([^\n]+)/.exec(output)?.[1]?.trim() ?? `${(statSync(module).size / 1024).toFixed(2)} KiB`;
  return { module, upload };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--outdir");
  if (at >= 0 && !args[at + 1]) {
    console.error("--outdir needs a directory");
    process.exit(2);
  }
  const { module, upload } = buildEdge(at >= 0 ? args[at + 1] : undefined);
  console.log(`${module}: upload ${upload}`);
}
