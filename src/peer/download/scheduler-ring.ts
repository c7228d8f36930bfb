/** Picks the scheduler of a task by consistent hashing, so all peers of a task meet on one scheduler. */
import { createHash } from "node:crypto";

const VIRTUAL_NODES = 64;

function point(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0);
}

/** A consistent-hash ring of scheduler addresses. */
export class SchedulerRing {
  private ring: { point: number; address: string }[] = [];

  constructor(addresses: readonly string[] = []) {
    this.set(addresses);
  }

  /** Replaces the addresses on the ring. */
  set(addresses: readonly string[]): void {
    this.ring = [...new Set(addresses)]
      .flatMap((address) => Array.from({ length: VIRTUAL_NODES }, (_, i) => ({ point: point(`${address}#${i}`), address })))
      .sort((a, b) => a.point - b.point);
  }

  /** The addresses on the ring. */
  addresses(): string[] {
    return [...new Set(this.ring.map((n) => n.address))];
  }

  /** The scheduler for a task: hashed on the first 5 characters of its ID, as Dragonfly's peers do. */
  pick(taskId: string, exclude: ReadonlySet<string> = new Set()): string | undefined {
    const candidates = this.ring.filter((n) => !exclude.has(n.address));
    if (candidates.length === 0) return undefined;
    const key = point(taskId.slice(0, 5));
    return (candidates.find((n) => n.point >= key) ?? candidates[0])!.address;
  }
}
