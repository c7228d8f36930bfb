/** Storage garbage collection: by task TTL and by disk usage thresholds. */
import type { Logger } from "../../common/log.ts";
import type { Storage, StoredTask } from "./storage.ts";

/** GC policy (Dragonfly's `gc.policy`). */
export interface GcPolicy {
  taskTTL: number;
  diskHighThresholdPercent: number;
  diskLowThresholdPercent: number;
  diskThreshold?: number;
}

/** Runs one GC pass; returns the IDs of evicted tasks. `busy` lists tasks in use that must stay. */
export function collectGarbage(
  storage: Storage,
  policy: GcPolicy,
  busy: ReadonlySet<string>,
  log: Logger,
  now = Date.now(),
): string[] {
  const evicted: string[] = [];
  const evict = (task: StoredTask, reason: string) => {
    storage.delete(task.record.id);
    evicted.push(task.record.id);
    log.info("Evicted task", { taskId: task.record.id, reason });
  };
  for (const task of storage.list()) {
    if (busy.has(task.record.id)) continue;
    const ttl = task.record.ttlMs > 0 ? task.record.ttlMs : policy.taskTTL;
    if (task.record.updatedAt + ttl <= now) evict(task, "ttl");
  }
  const usage = storage.diskUsage();
  const total = policy.diskThreshold ?? usage.total;
  const used = policy.diskThreshold ? storage.list().reduce((sum, t) => sum + t.record.contentLength, 0) : usage.used;
  if (total <= 0 || (used / total) * 100 < policy.diskHighThresholdPercent) return evicted;
  let toFree = used - (total * policy.diskLowThresholdPercent) / 100;
  const candidates = storage
    .list()
    .filter((t) => !busy.has(t.record.id) && !t.record.persistent && t.record.state !== "running")
    .sort((a, b) => a.record.updatedAt - b.record.updatedAt);
  for (const task of candidates) {
    if (toFree <= 0) break;
    toFree -= task.record.contentLength;
    evict(task, "disk usage");
  }
  return evicted;
}
