import { describe, expect, test } from "bun:test";
import { parseRate, parseSize } from "./units.ts";

describe("parseSize()", () => {
  test("binary and decimal units", () => {
    expect(parseSize("128MiB")).toBe(128 * 2 ** 20);
    expect(parseSize("1GiB")).toBe(2 ** 30);
    expect(parseSize("1gb")).toBe(1e9);
    expect(parseSize("4096")).toBe(4096);
  });
  test("bad input names the value", () => {
    expect(() => parseSize("12 parsecs")).toThrow(`Invalid size "12 parsecs"`);
    expect(() => parseSize("0")).toThrow("must be positive");
  });
});

describe("parseRate()", () => {
  test("tc units in bits per second", () => {
    expect(parseRate("200mbit")).toBe(200e6);
    expect(parseRate("1gbit")).toBe(1e9);
    expect(parseRate("25mbps")).toBe(200e6);
  });
  test("a rate needs a unit", () => {
    expect(() => parseRate("200")).toThrow(`Invalid rate "200"`);
  });
});
