/** Test support: fresh migrated databases on PGlite (cloned from a template) and PostgreSQL, and a client. */
import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "../common/log.ts";
import { defaultConfig, type ManagerConfig } from "./config.ts";
import { openDatabase, type DatabaseHandle } from "./db/database.ts";
import { migrate } from "./db/migrate.ts";
import { createManager, type Manager } from "./manager.ts";

/** The PostgreSQL server tests use. */
export const POSTGRES_ADMIN_URL = process.env.LIBELLULA_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

let template: Promise<Blob> | undefined;

/** A fresh PGlite database with every migration applied (cloned from a template made once per process). */
export async function freshPglite(): Promise<DatabaseHandle> {
  template ??= (async () => {
    const pg = await PGlite.create();
    const handle = await openDatabase({ pglite: pg });
    await migrate(handle.db);
    const blob = await pg.dumpDataDir("none");
    await handle.close();
    return blob;
  })();
  const pg = await PGlite.create({ loadDataDir: await template });
  return await openDatabase({ pglite: pg });
}

/** A new empty PostgreSQL database, dropped by `drop()`. */
export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { default: postgres } = await import("postgres");
  const name = `libellula_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database if exists "${name}" with (force)`);
      await again.end();
    },
  };
}

/** The two databases the suites run against. */
export const DATABASES = ["pglite", "postgres"] as const;

/** A manager on a fresh database, released with `await using`. */
export interface TestManager extends AsyncDisposable {
  manager: Manager;
  config: ManagerConfig;
  /** Calls the app in process with JSON in and out. */
  call(method: string, path: string, options?: { body?: unknown; token?: string; headers?: Record<string, string>; ip?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Signs up (first = root) and signs in; returns the user id and session token. */
  user(name: string, password?: string): Promise<{ id: number; token: string }>;
}

/** Starts a manager on a fresh database of the given kind. */
export async function startTestManager(kind: (typeof DATABASES)[number], overrides: Record<string, unknown> = {}): Promise<TestManager> {
  const config = defaultConfig({ cache: { ttlMs: 0 }, keepAlive: { intervalMs: 100 }, ...overrides });
  let drop = async () => {};
  let database: DatabaseHandle;
  if (kind === "pglite") database = await freshPglite();
  else {
    const pg = await freshPostgres();
    drop = pg.drop;
    config.database.url = pg.url;
    database = await openDatabase({ url: pg.url, poolSize: 4 });
  }
  const manager = await createManager({ config, database, log: quietLog });
  const call: TestManager["call"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers["content-type"] ??= "application/json";
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await manager.fetch(
      new Request(`http://manager.test${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body),
      }),
      { ip: options.ip ?? "127.0.0.1" },
    );
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body, headers: response.headers };
  };
  const user: TestManager["user"] = async (name, password = "password-1234") => {
    const signup = await call("POST", "/api/v1/users/signup", { body: { name, password, email: `${name}@example.com` } });
    if (signup.status !== 200) throw new Error(`signup ${name}: ${signup.status} ${JSON.stringify(signup.body)}`);
    const signin = await call("POST", "/api/v1/users/signin", { body: { name, password } });
    if (signin.status !== 200) throw new Error(`signin ${name}: ${signin.status} ${JSON.stringify(signin.body)}`);
    return { id: signup.body.id as number, token: signin.body.token as string };
  };
  const dispose = async () => {
    await manager.stop();
    await database.close();
    await drop();
  };
  return { manager, config, call, user, [Symbol.asyncDispose]: dispose };
}

/** A logger that drops everything but errors. */
export const quietLog: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message, fields) => console.error(message, fields),
  child: () => quietLog,
};
