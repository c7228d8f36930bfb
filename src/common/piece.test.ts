import { expect, test } from "bun:test";
import { MIB } from "./units.ts";
import { pieceAt, pieceCount, pieceLength, piecesOf, sizeScope } from "./piece.ts";

test("pieceLength() is 4 MiB up to about 2 GB", () => {
  expect(pieceLength(0)).toBe(4 * MIB);
  expect(pieceLength(64 * MIB)).toBe(4 * MIB);
  expect(pieceLength(2 * 1000 * 1000 * 1000)).toBe(4 * MIB);
});
test("pieceLength() rounds up to a power of two", () => {
  expect(pieceLength(10 * 1024 * MIB)).toBe(32 * MIB);
  expect(pieceLength(500 * 4 * MIB + 500)).toBe(8 * MIB);
});
test("pieceLength() clamps at 64 MiB", () => {
  expect(pieceLength(100 * 1024 * MIB)).toBe(64 * MIB);
});
test("pieceLength() uses a requested length as is and rejects small ones", () => {
  expect(pieceLength(1, 16 * MIB)).toBe(16 * MIB);
  expect(() => pieceLength(1, 1024)).toThrow("at least");
});
test("pieces of a content cover it exactly", () => {
  const pieces = piecesOf(10 * MIB + 5, 4 * MIB);
  expect(pieces.map((p) => p.length)).toEqual([4 * MIB, 4 * MIB, 2 * MIB + 5]);
  expect(pieceCount(10 * MIB + 5, 4 * MIB)).toBe(3);
  expect(pieceAt(2, 4 * MIB, 10 * MIB + 5).offset).toBe(8 * MIB);
});
test("piecesOf() with a range keeps only overlapping pieces", () => {
  expect(piecesOf(16 * MIB, 4 * MIB, { start: 5 * MIB, length: 4 * MIB }).map((p) => p.number)).toEqual([1, 2]);
});
test("sizeScope() follows the scheduler's classes", () => {
  expect(sizeScope(0, 0)).toBe("EMPTY");
  expect(sizeScope(128, 1)).toBe("TINY");
  expect(sizeScope(129, 1)).toBe("SMALL");
  expect(sizeScope(9 * MIB, 3)).toBe("NORMAL");
});
