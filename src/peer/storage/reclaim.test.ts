import { expect, test } from "bun:test";
import { BufferReclaimer, DEFAULT_RECLAIM_BYTES, FULL_COLLECTION_EVERY, MIN_FULL_INTERVAL_MS } from "./reclaim.ts";

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
  let clock = 0;
  const reclaimer = new BufferReclaimer(10, (full) => kinds.push(full), () => clock);
  for (let i = 0; i < FULL_COLLECTION_EVERY * 2; i++) {
    clock += MIN_FULL_INTERVAL_MS / FULL_COLLECTION_EVERY;
    reclaimer.account(10);
  }
  expect(kinds.filter(Boolean).length).toBe(2);
  expect(kinds[FULL_COLLECTION_EVERY - 1]).toBe(true);
  expect(kinds[0]).toBe(false);
});

test("BufferReclaimer spaces full collections at least MIN_FULL_INTERVAL_MS apart", () => {
  const kinds: boolean[] = [];
  const reclaimer = new BufferReclaimer(10, (full) => kinds.push(full), () => 0);
  for (let i = 0; i < FULL_COLLECTION_EVERY * 3; i++) reclaimer.account(10);
  expect(kinds.filter(Boolean).length).toBe(1);
});

test("BufferReclaimer's default collection runs under Bun without throwing", () => {
  const reclaimer = new BufferReclaimer();
  reclaimer.account(DEFAULT_RECLAIM_BYTES);
  expect(reclaimer.collections).toBe(1);
});
