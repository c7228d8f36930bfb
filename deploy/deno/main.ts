/**
 * The Deno Deploy entry: one long-lived manager per isolate on PostgreSQL (`DATABASE_URL`), served with
 * Deno.serve. The REST API, the Connect and gRPC-web RPCs and the console share the deployment's one URL.
 * Migrations run at start unless `MANAGER_MIGRATE=false`. See deploy/deno/README.md.
 */
import { createLogger } from "../../src/common/log.ts";
import { configFromArgs } from "../../src/manager/cli.ts";
import { createManager } from "../../src/manager/manager.ts";

/** The part of Deno's API this file uses. */
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { hostname?: string; port?: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { finished: Promise<void> };
};

const env = Deno.env.toObject();
if (!env.DATABASE_URL) throw new Error("Cannot start the manager: set DATABASE_URL to a PostgreSQL URL (Deno Deploy has no disk for PGlite)");
if (env.PORT !== undefined && !/^\d{1,5}$/.test(env.PORT)) throw new Error(`Cannot start the manager: PORT must be a port number, got "${env.PORT}"`);
const log = createLogger({ component: "manager", runtime: "deno-deploy" });
const manager = await createManager({ config: configFromArgs([], env), log, migrate: env.MANAGER_MIGRATE !== "false" });

// Deno Deploy chooses the address itself; PORT and HOSTNAME serve a local run.
Deno.serve(
  {
    ...(env.PORT ? { port: Number(env.PORT) } : {}),
    ...(env.HOSTNAME ? { hostname: env.HOSTNAME } : {}),
    onListen: ({ hostname, port }) => log.info("Listening", { hostname, port }),
  },
  (request, info) => manager.fetch(request, { ip: info.remoteAddr.hostname }),
);
