import { expect, test } from "bun:test";
import { SchedulerRing } from "./scheduler-ring.ts";

test("pick() is stable for a task and spreads tasks over schedulers", () => {
  const ring = new SchedulerRing(["10.0.0.1:8002", "10.0.0.2:8002", "10.0.0.3:8002"]);
  const picks = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const id = i.toString(16).padStart(5, "0") + "f".repeat(59);
    expect(ring.pick(id)).toBe(ring.pick(id)!);
    picks.add(ring.pick(id)!);
  }
  expect(picks.size).toBe(3);
});

test("pick() skips excluded schedulers and answers undefined when none remain", () => {
  const ring = new SchedulerRing(["a:1", "b:1"]);
  const first = ring.pick("abcdef")!;
  const second = ring.pick("abcdef", new Set([first]))!;
  expect(second).not.toBe(first);
  expect(ring.pick("abcdef", new Set(["a:1", "b:1"]))).toBeUndefined();
});
