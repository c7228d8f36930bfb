/**
 * Applies the committed drizzle-kit migrations in one transaction under a PostgreSQL advisory lock, so
 * several manager instances starting on one database apply each migration exactly once.
 */
import { sql } from "drizzle-orm";
import type { Database } from "./database.ts";
import { MIGRATIONS } from "./migrations.gen.ts";

/** One migration: its tag, content hash and statements. */
export interface Migration {
  tag: string;
  hash: string;
  when: number;
  statements: string[];
}

/** Key of the advisory lock held while migrating. */
const MIGRATION_LOCK_KEY = 0x4c6962656c6c75n; // "Libellu"

/** Applies every migration not yet recorded; returns the tags applied now. */
export async function migrate(db: Database, migrations: Migration[] = MIGRATIONS): Promise<string[]> {
  return await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`);
    await tx.execute(sql`create table if not exists "__libellula_migrations" (
      "id" serial primary key, "tag" text not null, "hash" text not null unique,
      "created_at" bigint not null, "applied_at" timestamptz not null default now())`);
    const rows = await tx.execute<{ hash: string }>(sql`select "hash" from "__libellula_migrations"`);
    const applied = new Set(rowsOf<{ hash: string }>(rows).map((r) => r.hash));
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.hash)) continue;
      for (const statement of migration.statements) await tx.execute(sql.raw(statement));
      await tx.execute(
        sql`insert into "__libellula_migrations" ("tag", "hash", "created_at") values (${migration.tag}, ${migration.hash}, ${migration.when})`,
      );
      done.push(migration.tag);
    }
    return done;
  });
}

/** Rows of an `execute()` result: postgres.js returns an array, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
