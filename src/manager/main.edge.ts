/**
 * The edge entry: `export default { fetch }` for fetch-based runtimes. It needs `DATABASE_URL` (a
 * PostgreSQL reachable from the runtime) and expects migrations applied out of band unless
 * `MANAGER_MIGRATE=true`. Schedulers reach it with unary RPCs only (Heartbeat, job claims).
 */
import { createManager, type Manager } from "./manager.ts";
import { defaultConfig } from "./config.ts";

/** Environment bindings the edge runtime hands in. */
export interface EdgeEnv {
  DATABASE_URL?: string;
  LIBELLULA_JWT_KEY?: string;
  MANAGER_MIGRATE?: string;
}

let started: Promise<Manager> | undefined;

function managerFor(env: EdgeEnv): Promise<Manager> {
  started ??= createManager({
    config: defaultConfig({
      database: { url: env.DATABASE_URL, poolSize: 1 },
      ...(env.LIBELLULA_JWT_KEY ? { auth: { jwt: { key: env.LIBELLULA_JWT_KEY } } } : {}),
    }),
    migrate: env.MANAGER_MIGRATE === "true",
  });
  started.catch(() => (started = undefined));
  return started;
}

export default {
  /** Serves one request. */
  async fetch(request: Request, env: EdgeEnv = {}): Promise<Response> {
    const manager = await managerFor(env);
    return await manager.fetch(request, { ip: request.headers.get("cf-connecting-ip") ?? undefined });
  },
};
