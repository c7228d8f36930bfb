/** Fixed-window counters kept in the database, so every manager instance enforces the same limit. */
import { sql } from "drizzle-orm";
import type { Database } from "./db/database.ts";
import { rowsOf } from "./db/migrate.ts";

/** Counts one event under `key`; returns the count in the current window. */
export async function hit(db: Database, key: string, windowSeconds: number): Promise<number> {
  const result = await db.execute<{ count: number }>(sql`
    insert into "rate_limit" ("key", "window_start", "count") values (${key}, now(), 1)
    on conflict ("key") do update set
      "count" = case when "rate_limit"."window_start" < now() - make_interval(secs => ${windowSeconds}) then 1 else "rate_limit"."count" + 1 end,
      "window_start" = case when "rate_limit"."window_start" < now() - make_interval(secs => ${windowSeconds}) then now() else "rate_limit"."window_start" end
    returning "count"`);
  return Number(rowsOf<{ count: number }>(result)[0]?.count ?? 0);
}

/** The count in the current window without adding to it. */
export async function peek(db: Database, key: string, windowSeconds: number): Promise<number> {
  const result = await db.execute<{ count: number }>(sql`
    select "count" from "rate_limit"
    where "key" = ${key} and "window_start" >= now() - make_interval(secs => ${windowSeconds})`);
  return Number(rowsOf<{ count: number }>(result)[0]?.count ?? 0);
}
