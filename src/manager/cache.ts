/**
 * A small read-through cache with a TTL and single-flight loads. Writes in this process clear it at once;
 * other instances see changes within the TTL, so nothing that matters lives only in memory.
 */

/** Most entries kept; the oldest are dropped first. */
export const DEFAULT_MAX_ENTRIES = 10_000;

interface Entry<V> {
  value: Promise<V>;
  expires: number;
}

/** A TTL cache keyed by string. */
export class TtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number = DEFAULT_MAX_ENTRIES,
  ) {}

  /** The cached value, or `load()`'s, shared by concurrent callers. Failed loads are not kept. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const generation = this.generation;
    const value = load();
    const entry = { value, expires: now + this.ttlMs };
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    value.then(
      () => {
        if (generation !== this.generation && this.entries.get(key) === entry) this.entries.delete(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return value;
  }

  /** Forgets one key. */
  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets everything, including loads in flight. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
