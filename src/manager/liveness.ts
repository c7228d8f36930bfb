/** Liveness of schedulers and seed peers: active while heartbeats arrive, inactive after three missed. */
import { and, eq, lt, sql, type SQL } from "drizzle-orm";
import type { Database } from "./db/database.ts";
import { rateLimit, scheduler, seedPeer, session } from "./db/schema.ts";

/** Heartbeats that may be missed before an instance turns inactive. */
export const MISSED_HEARTBEATS = 3;
/** Nanoseconds per millisecond (Dragonfly's config durations are Go nanoseconds). */
const NS_PER_MS = 1_000_000;

/** The heartbeat interval in a scheduler's config (`manager_keep_alive_interval`, ns or a "5s" string). */
export function intervalFromConfig(config: Record<string, unknown> | undefined, fallbackMs: number): number {
  const value = config?.manager_keep_alive_interval;
  if (typeof value === "number" && Number.isFinite(value) && value > 0) {
    return clamp(value >= NS_PER_MS ? Math.round(value / NS_PER_MS) : Math.round(value * 1000));
  }
  if (typeof value === "string") {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim());
    if (match) {
      const n = Number(match[1]);
      return clamp(match[2] === "ms" ? n : match[2] === "s" ? n * 1000 : n * 60_000);
    }
  }
  return fallbackMs;
}

function clamp(ms: number): number {
  return Math.min(Math.max(Math.round(ms), 10), 3_600_000);
}

/** SQL: the row heartbeated within three of its intervals. */
export function alive(table: typeof scheduler | typeof seedPeer): SQL {
  return sql`(${table.state} = 'active' and ${table.last_keep_alive_at} > now() - make_interval(secs => ${table.keep_alive_interval_ms} * ${MISSED_HEARTBEATS} / 1000.0))`;
}

/** Marks stale active rows inactive, so REST lists agree with the RPC answers; returns rows changed. */
export async function sweep(db: Database): Promise<number> {
  let changed = 0;
  for (const table of [scheduler, seedPeer] as const) {
    const rows = await db
      .update(table)
      .set({ state: "inactive", updated_at: new Date() })
      .where(
        and(
          eq(table.state, "active"),
          lt(table.last_keep_alive_at, sql`now() - make_interval(secs => ${table.keep_alive_interval_ms} * ${MISSED_HEARTBEATS} / 1000.0)`),
        ),
      )
      .returning({ id: table.id });
    changed += rows.length;
  }
  return changed;
}

/** How long an inactive scheduler or seed peer is kept before it is removed (Dragonfly's 30 minutes). */
export const INACTIVE_RETENTION_MS = 30 * 60 * 1000;

/** Removes instances inactive for longer than the retention; returns rows removed. */
export async function purgeInactive(db: Database, retentionMs: number = INACTIVE_RETENTION_MS): Promise<number> {
  const cutoff = new Date(Date.now() - retentionMs);
  let removed = 0;
  for (const table of [scheduler, seedPeer] as const) {
    const rows = await db
      .delete(table)
      .where(and(eq(table.state, "inactive"), lt(table.updated_at, cutoff)))
      .returning({ id: table.id });
    removed += rows.length;
  }
  return removed;
}

/** Removes sessions past their refresh deadline and rate-limit windows older than a day. */
export async function purgeExpired(db: Database): Promise<number> {
  const sessions = await db.delete(session).where(lt(session.refresh_until, sql`now()`)).returning({ id: session.id });
  const windows = await db.delete(rateLimit).where(lt(rateLimit.window_start, sql`now() - interval '1 day'`)).returning({ key: rateLimit.key });
  return sessions.length + windows.length;
}
