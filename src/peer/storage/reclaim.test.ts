import { expect, test } from "bun:test";
import { BufferReclaimer, DEFAULT_RECLAIM_BYTES, FULL_COLLECTION_EVERY, FULL_COLLECTION_SPACING } from "./reclaim.ts";

test("BufferReclaimer asks for one collection per full interval of bytes, never in between", () => {
  let calls = 0;
  const reclaimer = new BufferReclaimer(1000, () => calls++);
  reclaimer.account(999);
  expect(calls).toBe(0);
  reclaimer.account(1);
  expect(calls).toBe(1);
  for (let i = 0; i < 25; i++) reclaimer.account(100);
  expect(calls).toBe(3);
  expect(reclaimer.collections).toBe(3);
});

test("BufferReclaimer makes every FULL_COLLECTION_EVERY-th collection a full one", () => {
  const kinds: boolean[] = [];
  const reclaimer = new BufferReclaimer(10, (full) => kinds.push(full), () => 0, () => 0);
  for (let i = 0; i < FULL_COLLECTION_EVERY * 2; i++) reclaimer.account(10);
  expect(kinds.filter(Boolean).length).toBe(2);
  expect(kinds[FULL_COLLECTION_EVERY - 1]).toBe(true);
  expect(kinds[0]).toBe(false);
});

test("BufferReclaimer spaces full collections by FULL_COLLECTION_SPACING times their CPU cost", () => {
  const kinds: boolean[] = [];
  let clock = 0;
  // Each full collection takes 10 ms of the clock; everything else takes 1 ms per hint.
  const reclaimer = new BufferReclaimer(10, (full) => {
    kinds.push(full);
    if (full) clock += 10;
  }, () => clock, () => clock);
  for (let i = 0; i < FULL_COLLECTION_EVERY * 40; i++) {
    clock += 1;
    reclaimer.account(10);
  }
  const fulls = kinds.flatMap((full, i) => (full ? [i] : []));
  expect(fulls[0]).toBe(FULL_COLLECTION_EVERY - 1);
  // 10 ms each: at least FULL_COLLECTION_SPACING × 10 ms apart, at 1 ms per hint.
  const gaps = fulls.slice(1).map((at, i) => at - fulls[i]!);
  expect(gaps.length).toBeGreaterThan(0);
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(10 * FULL_COLLECTION_SPACING - 10);
});

test("BufferReclaimer's default collection runs under Bun without throwing", () => {
  const reclaimer = new BufferReclaimer();
  reclaimer.account(DEFAULT_RECLAIM_BYTES);
  expect(reclaimer.collections).toBe(1);
});
