/**
 * The edge entry: `export default { fetch, scheduled }` for fetch-based runtimes (Cloudflare's workerd, and any
 * runtime that hands a Request and an environment to a module). It needs PostgreSQL: a `HYPERDRIVE` binding or
 * `DATABASE_URL`. Migrations run on an isolate's first request when `MANAGER_MIGRATE=true`, else out of band.
 * Schedulers reach it with unary RPCs only (Heartbeat, job claims); liveness sweeps run from a cron trigger.
 *
 * workerd binds a socket to the request that opened it, so each request opens its own connection (Hyperdrive
 * pools them on Cloudflare's side). The app itself is built once per isolate and reaches the request's
 * connection through AsyncLocalStorage.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { createLogger } from "../common/log.ts";
import { createApp, type ManagerApp } from "./app.ts";
import { defaultConfig } from "./config.ts";
import type { Database, DatabaseHandle } from "./db/database.ts";
import { migrate } from "./db/migrate.ts";
import * as schema from "./db/schema.ts";
import { purgeExpired, purgeInactive, sweep } from "./liveness.ts";

/** Environment bindings the edge runtime hands in. */
export interface EdgeEnv {
  /** A PostgreSQL URL (a secret on Cloudflare). */
  DATABASE_URL?: string;
  /** A Cloudflare Hyperdrive binding; wins over DATABASE_URL. */
  HYPERDRIVE?: { connectionString: string };
  /** The HS256 key of console sessions; else one is generated and kept in the database. */
  LIBELLULA_JWT_KEY?: string;
  /** "true" applies migrations on an isolate's first request. */
  MANAGER_MIGRATE?: string;
  /** Creates the root account with this password when there is none yet. */
  LIBELLULA_INITIAL_ROOT_PASSWORD?: string;
}

/** The part of the runtime's execution context this entry uses (workerd hands it in; others may not). */
export interface EdgeContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** Connections per request: one is enough, a request runs its queries in turn. */
const POOL_SIZE = 1;

const log = createLogger({ component: "manager", runtime: "edge" });
const current = new AsyncLocalStorage<Database>();

/** The database of the request being served; every service of the app reaches it through this. */
const requestDatabase = new Proxy({} as Database, {
  get(_target, key) {
    const db = current.getStore();
    if (!db) throw new Error("Cannot reach the database outside a request");
    const value = Reflect.get(db, key, db) as unknown;
    return typeof value === "function" ? value.bind(db) : value;
  },
});

let app: { key: string; app: ManagerApp } | undefined;
let migrated = false;
let bootstrapped = false;

function databaseUrl(env: EdgeEnv): string {
  const url = env.HYPERDRIVE?.connectionString ?? env.DATABASE_URL;
  if (!url) throw new Error("Cannot start the manager: set DATABASE_URL or bind HYPERDRIVE");
  if (!/^postgres(?:ql)?:\/\//.test(url)) throw new Error(`Cannot start the manager: DATABASE_URL must be a postgres:// URL, got "${url.split(":")[0]}:…"`);
  return url;
}

/** The app for this environment, built once per isolate (again if the key changes). */
function appFor(env: EdgeEnv): ManagerApp {
  const key = env.LIBELLULA_JWT_KEY ?? "";
  if (app?.key !== key) {
    const config = defaultConfig({ database: { poolSize: POOL_SIZE }, ...(key ? { auth: { jwt: { key } } } : {}) });
    app = { key, app: createApp({ db: requestDatabase, config, log }) };
  }
  return app.app;
}

/**
 * A connection for one request. Not openDatabase(): that one also reaches for PGlite, and this one skips
 * postgres.js's type lookup (no column or query here returns arrays), one round trip less per request.
 */
function connect(url: string): DatabaseHandle {
  const client = postgres(url, { max: POOL_SIZE, fetch_types: false, onnotice: () => {} });
  const close = () => client.end({ timeout: 5 });
  return { db: drizzle({ client, schema }) as unknown as Database, kind: "postgres", close, [Symbol.asyncDispose]: close };
}

/** Runs `work` with a connection of its own, closed once the work (or the runtime's waitUntil) is done. */
async function withDatabase<T>(env: EdgeEnv, ctx: EdgeContext | undefined, work: (db: Database) => Promise<T>): Promise<T> {
  const handle = connect(databaseUrl(env));
  try {
    return await current.run(handle.db, async () => {
      if (!migrated && env.MANAGER_MIGRATE === "true") {
        const applied = await migrate(handle.db);
        if (applied.length > 0) log.info("Applied migrations", { applied });
        migrated = true;
      }
      return await work(handle.db);
    });
  } finally {
    const closing = handle.close().catch((error: unknown) => log.warn("Closing the database failed", { error }));
    if (ctx) ctx.waitUntil(closing);
    else await closing;
  }
}

export default {
  /** Serves one request. */
  async fetch(request: Request, env: EdgeEnv = {}, ctx?: EdgeContext): Promise<Response> {
    try {
      const manager = appFor(env);
      return await withDatabase(env, ctx, async () => {
        if (!bootstrapped && env.LIBELLULA_INITIAL_ROOT_PASSWORD) {
          const root = await manager.services.users.bootstrapRoot(env.LIBELLULA_INITIAL_ROOT_PASSWORD);
          if (root) log.info("Created the root account", { name: root.name });
          bootstrapped = true;
        }
        return await manager.fetch(request, { ip: request.headers.get("cf-connecting-ip") ?? undefined });
      });
    } catch (error) {
      log.error("Request failed", { path: new URL(request.url).pathname, error });
      const message = error instanceof Error && error.message.startsWith("Cannot start the manager") ? error.message : "Internal error";
      return Response.json({ message }, { status: 500 });
    }
  },

  /** A cron trigger: marks silent schedulers and seed peers inactive, expires jobs, purges old rows. */
  async scheduled(_event: unknown, env: EdgeEnv = {}, ctx?: EdgeContext): Promise<void> {
    const manager = appFor(env);
    await withDatabase(env, ctx, async (db) => {
      const changed = await sweep(db);
      const expired = await manager.services.jobs.expire();
      const removed = (await purgeInactive(db)) + (await purgeExpired(db));
      if (changed + expired + removed > 0) log.info("Swept", { changed, expired, removed });
    });
  },
};
