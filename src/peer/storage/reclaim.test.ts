import { expect, test } from "bun:test";
import { BufferReclaimer, DEFAULT_RECLAIM_BYTES } from "./reclaim.ts";

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

test("BufferReclaimer's default collection runs under Bun without throwing", () => {
  const reclaimer = new BufferReclaimer();
  reclaimer.account(DEFAULT_RECLAIM_BYTES);
  expect(reclaimer.collections).toBe(1);
});
