import { expect, test } from "bun:test";
import { HashRing } from "./hashring.ts";

test("HashRing maps a key to the same member whatever the insertion order", () => {
  const a = new HashRing(["s1", "s2", "s3"]);
  const b = new HashRing(["s3", "s1", "s2"]);
  for (let i = 0; i < 50; i++) expect(a.get(`task-${i}`)).toBe(b.get(`task-${i}`)!);
});

test("HashRing spreads keys and moves only the removed member's keys", () => {
  const full = new HashRing(["s1", "s2", "s3"]);
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const m = full.get(`k${i}`)!;
    counts.set(m, (counts.get(m) ?? 0) + 1);
  }
  for (const c of counts.values()) expect(c).toBeGreaterThan(600);
  const reduced = new HashRing(["s1", "s2"]);
  for (let i = 0; i < 300; i++) {
    const before = full.get(`k${i}`)!;
    if (before !== "s3") expect(reduced.get(`k${i}`)).toBe(before);
  }
});

test("HashRing.getN() returns distinct members, owner first", () => {
  const ring = new HashRing(["a", "b", "c"]);
  const three = ring.getN("x", 5);
  expect(three.length).toBe(3);
  expect(new Set(three).size).toBe(3);
  expect(three[0]).toBe(ring.get("x")!);
  expect(new HashRing([]).get("x")).toBeUndefined();
});
