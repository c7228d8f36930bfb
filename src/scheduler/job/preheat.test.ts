import { expect, test } from "bun:test";
import { filteredParams, selectHosts, timeoutMs } from "./preheat.ts";

const hosts = ["c", "a", "d", "b"].map((id, i) => ({ id, ip: `10.0.0.${i + 1}` }));

test("selectHosts() lets ips win over count and count over percentage", () => {
  expect(selectHosts(hosts, { ips: ["10.0.0.2"], count: 3, percentage: 100 }).map((h) => h.id)).toEqual(["a"]);
  expect(selectHosts(hosts, { count: 3, percentage: 25 }).map((h) => h.id)).toEqual(["a", "b", "c"]);
  expect(selectHosts(hosts, { percentage: 50 }).map((h) => h.id)).toEqual(["a", "b"]);
  // At least one host however small the percentage.
  expect(selectHosts(hosts, { percentage: 1 }).map((h) => h.id)).toEqual(["a"]);
  expect(selectHosts(hosts, {}).map((h) => h.id)).toEqual(["a", "b", "c", "d"]);
});

test("filteredParams() splits on & and falls back to the default list", () => {
  expect(filteredParams("a&b")).toEqual(["a", "b"]);
  expect(filteredParams("")).toContain("X-Amz-Signature");
});

test("timeoutMs() reads Go nanoseconds and defaults to an hour", () => {
  expect(timeoutMs(2_000_000_000)).toBe(2000);
  expect(timeoutMs(0)).toBe(3_600_000);
});
