import { expect, test } from "bun:test";
import { InflightPieces } from "./inflight.ts";

test("an in-flight piece reports progress from its start, then its outcome, and wakes waiters on each", async () => {
  const pieces = new InflightPieces();
  const piece = pieces.begin("t", 3, 3 * 100, 100);
  expect(pieces.get("t", 3)).toBe(piece);
  expect([...pieces.of("t")]).toEqual([piece]);
  const woken = piece.changed(10_000);
  piece.advanceTo(300 + 40);
  await woken;
  expect(piece.written).toBe(40);
  piece.advanceTo(300 + 20); // never backwards
  expect(piece.written).toBe(40);
  piece.advanceTo(300 + 500); // never past the piece
  expect(piece.written).toBe(100);
  const finished = piece.changed(10_000);
  pieces.end(piece, { kind: "finished", digest: "crc32:1" });
  await finished;
  expect(piece.outcome).toEqual({ kind: "finished", digest: "crc32:1" });
  expect(pieces.get("t", 3)).toBeUndefined();
  // Once ended, waiting returns at once.
  await piece.changed(10_000);
});

test("starting a piece again fails the earlier attempt, and ending the earlier one leaves the new one", () => {
  const pieces = new InflightPieces();
  const first = pieces.begin("t", 0, 0, 10);
  const second = pieces.begin("t", 0, 0, 10);
  expect(first.outcome?.kind).toBe("failed");
  pieces.end(first, { kind: "failed", reason: "late" });
  expect(pieces.get("t", 0)).toBe(second);
  expect(second.outcome).toBeUndefined();
});

test("dropping a task fails its pieces; a timeout alone resolves a wait", async () => {
  const pieces = new InflightPieces();
  const piece = pieces.begin("t", 1, 10, 10);
  const started = performance.now();
  await piece.changed(20);
  expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  pieces.dropTask("t", "deleted");
  expect(piece.outcome).toEqual({ kind: "failed", reason: "deleted" });
  expect(pieces.get("t", 1)).toBeUndefined();
  piece.advanceTo(20);
  expect(piece.written).toBe(0);
});
