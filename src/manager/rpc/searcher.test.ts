import { describe, expect, test } from "bun:test";
import { inCidr, parseIp, rank, score, WEIGHTS } from "./searcher.ts";

const client = { hostname: "node-7.gpu.example", ip: "10.1.2.3", idc: "idc-a", location: "cn|hz|xihu|a" };

describe("searcher", () => {
  test("score() adds Dragonfly's weights for each match", () => {
    expect(score({ id: 1, scopes: {}, isDefault: false }, client)).toBe(0);
    expect(score({ id: 1, scopes: {}, isDefault: true }, client)).toBeCloseTo(WEIGHTS.isDefault);
    expect(score({ id: 1, scopes: { cidrs: ["10.1.0.0/16"] }, isDefault: false }, client)).toBeCloseTo(0.3);
    expect(score({ id: 1, scopes: { hostnames: ["^node-\\d+\\.gpu"] }, isDefault: false }, client)).toBeCloseTo(0.3);
    expect(score({ id: 1, scopes: { idc: "idc-b|IDC-A" }, isDefault: false }, client)).toBeCloseTo(0.25);
    expect(score({ id: 1, scopes: { location: "cn|hz|xihu|a" }, isDefault: false }, client)).toBeCloseTo(0.14);
    expect(score({ id: 1, scopes: { location: "cn|hz|binjiang" }, isDefault: false }, client)).toBeCloseTo(0.14 * (2 / 5));
    const all = { cidrs: ["10.0.0.0/8"], hostnames: ["gpu"], idc: "idc-a", location: "cn|hz|xihu|a" };
    expect(score({ id: 1, scopes: all, isDefault: true }, client)).toBeCloseTo(1);
  });

  test("rank() orders clusters best first and keeps id order on ties", () => {
    const clusters = [
      { id: 1, scopes: {}, isDefault: true },
      { id: 2, scopes: { idc: "idc-a" }, isDefault: false },
      { id: 3, scopes: { cidrs: ["10.1.2.0/24"], location: "cn" }, isDefault: false },
      { id: 4, scopes: {}, isDefault: false },
      { id: 5, scopes: {}, isDefault: false },
    ];
    expect(rank(clusters, client).map((c) => c.id)).toEqual([3, 2, 1, 4, 5]);
  });

  test("a pattern that does not compile matches nothing", () => {
    expect(score({ id: 1, scopes: { hostnames: ["("] }, isDefault: false }, client)).toBe(0);
  });

  test("inCidr() handles IPv4, IPv6 and IPv4-mapped addresses", () => {
    expect(inCidr("192.168.1.9", "192.168.1.0/24")).toBe(true);
    expect(inCidr("192.168.2.9", "192.168.1.0/24")).toBe(false);
    expect(inCidr("::ffff:192.168.1.9", "192.168.0.0/16")).toBe(true);
    expect(inCidr("2001:db8::1", "2001:db8::/32")).toBe(true);
    expect(inCidr("2001:db9::1", "2001:db8::/32")).toBe(false);
    expect(inCidr("10.0.0.1", "0.0.0.0/0")).toBe(true);
    expect(inCidr("10.0.0.1", "2001:db8::/32")).toBe(false);
    expect(inCidr("not-an-ip", "10.0.0.0/8")).toBe(false);
    expect(parseIp("::1")?.[15]).toBe(1);
    expect(parseIp("1.2.3.256")).toBeUndefined();
  });
});
