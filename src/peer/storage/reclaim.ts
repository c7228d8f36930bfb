/**
 * Paces the collection of network buffers. Every chunk a socket or an HTTP body hands over is a fresh buffer; left
 * to the collector's own schedule, a daemon with a large heap lets tens of megabytes of them pile up between
 * collections, so each new chunk lands on pages the kernel must fault in and zero, and freed ones are handed back
 * with madvise. Asking for a young-generation collection every few megabytes received keeps the same warm pages
 * in use. Measured on a peer receiving 256 MiB in 4 MiB pieces, 8 at a time: 1.3 CPU s without, 0.6 with a hint
 * every 4 MiB, 0.7 every 8 MiB, 1.0 every 32 MiB and 0.95 every 1 MiB (each collection has a fixed cost).
 */

/** Bytes received between two collection hints. */
export const DEFAULT_RECLAIM_BYTES = 4 * 1024 * 1024;
/**
 * Every this many hints, a full collection: buffers still in flight at a young collection are promoted, and
 * without an occasional full one they would pile up in the old generation as a long download goes on, so the
 * daemon's memory would grow with the file.
 */
export const FULL_COLLECTION_EVERY = 32;
/**
 * Full collections are spaced at least this many times their own CPU cost apart, so they take at most about a
 * tenth of a core whatever the heap's size (a few milliseconds for a daemon's usual heap, far more for a huge one).
 * CPU time, not wall time: on a busy machine a collection waits for a core, which costs nothing.
 */
export const FULL_COLLECTION_SPACING = 10;

/** CPU milliseconds this process has used. */
function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Runs a collection where the runtime offers one (young generation only unless `full`); a no-op elsewhere. */
function runtimeCollect(full: boolean): void {
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(full);
}

/** Counts received bytes and asks for a collection after each `everyBytes`. */
export class BufferReclaimer {
  private pending = 0;
  private lastFull = -Infinity;
  private fullCost = 0;
  /** Collections asked for so far. */
  collections = 0;

  constructor(
    private readonly everyBytes = DEFAULT_RECLAIM_BYTES,
    private readonly collect: (full: boolean) => void = runtimeCollect,
    private readonly now: () => number = () => performance.now(),
    private readonly cpu: () => number = processCpuMs,
  ) {}

  /** Accounts `bytes` just consumed; collects when enough have passed. */
  account(bytes: number): void {
    this.pending += bytes;
    if (this.pending < this.everyBytes) return;
    this.pending = 0;
    this.collections++;
    if (this.collections % FULL_COLLECTION_EVERY !== 0 || this.now() - this.lastFull < this.fullCost * FULL_COLLECTION_SPACING) {
      this.collect(false);
      return;
    }
    const cpuBefore = this.cpu();
    this.collect(true);
    this.fullCost = this.cpu() - cpuBefore;
    this.lastFull = this.now();
  }
}
