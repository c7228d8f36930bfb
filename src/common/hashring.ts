/** A consistent hash ring: keys map to nodes so that adding or removing a node moves few keys. */
import { createHash } from "node:crypto";

/** Virtual nodes per member, for an even spread. */
export const DEFAULT_HASHRING_REPLICAS = 160;

function point(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0);
}

/** A ring over string members; lookups walk clockwise from the key's hash. */
export class HashRing {
  private readonly points: number[] = [];
  private readonly owners: string[] = [];
  readonly members: readonly string[];

  constructor(members: Iterable<string>, replicas = DEFAULT_HASHRING_REPLICAS) {
    this.members = [...new Set(members)].sort();
    const entries: [number, string][] = [];
    for (const member of this.members) {
      for (let i = 0; i < replicas; i++) entries.push([point(`${member}#${i}`), member]);
    }
    entries.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
    for (const [p, member] of entries) {
      this.points.push(p);
      this.owners.push(member);
    }
  }

  /** The member owning `key`, or undefined on an empty ring. */
  get(key: string): string | undefined {
    return this.getN(key, 1)[0];
  }

  /** Up to `n` distinct members in ring order from `key`: the owner first, then its successors. */
  getN(key: string, n: number): string[] {
    if (this.points.length === 0 || n <= 0) return [];
    const h = point(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    const want = Math.min(n, this.members.length);
    for (let i = 0; i < this.points.length && out.length < want; i++) {
      const owner = this.owners[(lo + i) % this.points.length]!;
      if (!out.includes(owner)) out.push(owner);
    }
    return out;
  }
}
