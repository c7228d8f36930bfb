import { describe, expect, test } from "bun:test";
import { parseRange } from "./range.ts";

describe("parseRange()", () => {
  test("a closed range is [start, end + 1)", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual([0, 100]);
  });
  test("an open range runs to the end", () => {
    expect(parseRange("bytes=900-", 1000)).toEqual([900, 1000]);
  });
  test("a suffix range is the last n bytes", () => {
    expect(parseRange("bytes=-100", 1000)).toEqual([900, 1000]);
    expect(parseRange("bytes=-5000", 1000)).toEqual([0, 1000]);
  });
  test("an end past the file is clamped", () => {
    expect(parseRange("bytes=10-5000", 1000)).toEqual([10, 1000]);
  });
  test("a start at or past the end is unsatisfiable", () => {
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 1000)).toBe("unsatisfiable");
  });
  test("several ranges or garbage serve the whole file", () => {
    expect(parseRange("bytes=0-1,5-9", 1000)).toBeNull();
    expect(parseRange("items=0-1", 1000)).toBeNull();
    expect(parseRange("bytes=9-5", 1000)).toBeNull();
  });
});
