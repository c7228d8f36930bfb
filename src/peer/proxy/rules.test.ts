import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfig } from "../../common/config.ts";
import { dfdaemonConfigSchema } from "../config.ts";
import { headerOptions, parseRange, upstreamRequestHeaders } from "./headers.ts";
import { compileRules, downloadUrl, matchRule, mirrorUpstream } from "./rules.ts";

describe("mirrorUpstream()", () => {
  test("takes X-Dragonfly-Registry first, then ns, then the configured address", () => {
    expect(mirrorUpstream("/v2/a/manifests/1?ns=docker.io", "http://r.local:5000", "https://index.docker.io").href)
      .toBe("http://r.local:5000/v2/a/manifests/1?ns=docker.io");
    expect(mirrorUpstream("/v2/a/manifests/1?ns=ghcr.io", null, "https://index.docker.io").href).toBe("https://ghcr.io/v2/a/manifests/1?ns=ghcr.io");
    expect(mirrorUpstream("/v2/a/blobs/sha256:1", null, "https://index.docker.io").href).toBe("https://index.docker.io/v2/a/blobs/sha256:1");
    expect(mirrorUpstream("/maven2/a.jar", "https://repo.example.com/", "https://x").href).toBe("https://repo.example.com/maven2/a.jar");
  });

  test("rejects a registry that is not an http(s) URL", () => {
    expect(() => mirrorUpstream("/v2/", "ftp://x", "https://x")).toThrow('Invalid registry "ftp://x": scheme must be http or https');
  });
});

describe("rules", () => {
  const rules = compileRules([{ regex: "blobs/sha256.*", useTLS: false }, { regex: "\\.jar$", useTLS: true, redirect: "mirror.local:8443" }]);

  test("match the URL without its query", () => {
    expect(matchRule(rules, new URL("http://r/v2/a/blobs/sha256:1?ns=x"))).toBe(rules[0]);
    expect(matchRule(rules, new URL("http://r/lib.jar?sig=1"))).toBe(rules[1]);
    expect(matchRule(rules, new URL("http://r/v2/a/manifests/latest"))).toBeUndefined();
  });

  test("useTLS and redirect rewrite the download URL", () => {
    expect(downloadUrl(new URL("http://r:80/lib.jar?x=1"), rules[1]!)).toBe("https://mirror.local:8443/lib.jar?x=1");
    expect(downloadUrl(new URL("http://r/v2/a/blobs/sha256:1#frag"), rules[0]!)).toBe("http://r/v2/a/blobs/sha256:1");
  });
});

describe("headers", () => {
  test("parseRange() resolves single ranges against the length", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ start: 0, length: 100 });
    expect(parseRange("bytes=900-", 1000)).toEqual({ start: 900, length: 100 });
    expect(parseRange("bytes=-10", 1000)).toEqual({ start: 990, length: 10 });
    expect(parseRange("bytes=950-5000", 1000)).toEqual({ start: 950, length: 50 });
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,5-6", 1000)).toBeUndefined();
    expect(parseRange(null, 1000)).toBeUndefined();
  });

  test("headerOptions() names the bad header", () => {
    expect(() => headerOptions(new Headers({ "X-Dragonfly-Piece-Length": "1mib" }))).toThrow(
      'Invalid header "x-dragonfly-piece-length": must be at least 4194304 bytes, got "1mib"',
    );
    expect(() => headerOptions(new Headers({ "X-Dragonfly-Priority": "9" }))).toThrow('Invalid header "x-dragonfly-priority"');
    expect(() => headerOptions(new Headers({ "X-Dragonfly-Prefetch": "yes" }))).toThrow('expected "true" or "false", got "yes"');
    const options = headerOptions(new Headers({ "X-Dragonfly-Tag": "t", "X-Dragonfly-Filtered-Query-Params": "a, b", "X-Dragonfly-Piece-Length": "8mib" }));
    expect(options).toMatchObject({ tag: "t", filteredQueryParams: ["a", "b"], pieceLength: 8 * 1024 * 1024, priority: 6 });
  });

  test("upstreamRequestHeaders() drops Host, hop-by-hop headers and those Connection names", () => {
    const out = upstreamRequestHeaders(
      new Headers({ host: "x", connection: "keep-alive, x-secret", "x-secret": "1", "proxy-authorization": "Basic a", authorization: "Bearer t" }),
    );
    expect([...out.keys()]).toEqual(["authorization"]);
  });
});

test("the proxy example in deploy/ is a valid dfdaemon config", () => {
  const config = loadConfig(dfdaemonConfigSchema, { file: join(import.meta.dir, "../../../deploy/proxy/dfdaemon.yaml") });
  expect(config.proxy.server.port).toBe(4001);
  expect(config.proxy.rules.map((r) => r.regex)).toContain("blobs/sha256.*");
  expect(config.proxy.authorizationCacheTTL).toBe(60_000);
});
