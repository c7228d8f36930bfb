/** Opens the manager's database: embedded PGlite in a data directory, or PostgreSQL through postgres.js. */
import type { PGlite, PGliteOptions } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema.ts";

/** The drizzle database every service uses, whichever driver is underneath. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

/** An open database and how to close it. */
export interface DatabaseHandle extends AsyncDisposable {
  readonly db: Database;
  readonly kind: "pglite" | "postgres";
  close(): Promise<void>;
}

/** Where the data lives. */
export interface OpenDatabaseOptions {
  /** A `postgres://` URL; wins over everything else. */
  url?: string;
  /** A PGlite data directory; in memory when absent. */
  dataDir?: string;
  /** An already created PGlite instance (tests hand in a clone of a migrated template). */
  pglite?: PGlite;
  /** Connections in the postgres.js pool. */
  poolSize?: number;
}

/** The default postgres.js pool size. */
export const DEFAULT_POOL_SIZE = 10;

/** Options every PGlite opened here starts from; none by default (PGlite finds its files beside its module). */
let pgliteDefaults: () => Promise<PGliteOptions> = async () => ({});

/** Sets where PGlite's wasm and data come from, for a compiled binary that embeds them. */
export function setPgliteDefaults(load: () => Promise<PGliteOptions>): void {
  pgliteDefaults = load;
}

/** Opens the database named by the options; never migrates (see migrate()). */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  if (options.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const client = postgres(options.url, { max: options.poolSize ?? DEFAULT_POOL_SIZE, onnotice: () => {} });
    const db = drizzle({ client, schema }) as unknown as Database;
    const close = () => client.end({ timeout: 5 });
    return { db, kind: "postgres", close, [Symbol.asyncDispose]: close };
  }
  const { drizzle } = await import("drizzle-orm/pglite");
  let client = options.pglite;
  if (!client) {
    const { PGlite } = await import("@electric-sql/pglite");
    client = await PGlite.create({ ...(await pgliteDefaults()), ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  }
  const pg = client;
  const db = drizzle({ client: pg, schema }) as unknown as Database;
  const close = async () => {
    if (!pg.closed) await pg.close();
  };
  return { db, kind: "pglite", close, [Symbol.asyncDispose]: close };
}
