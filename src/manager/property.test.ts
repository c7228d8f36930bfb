import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parse } from "yaml";
import { DATABASES, startTestManager, type TestManager } from "./test-support.ts";

setDefaultTimeout(120_000);

/** Runs per route and database: enough to hit every validator, small enough for the suite's time budget. */
const RUNS: Record<(typeof DATABASES)[number], number> = {
  pglite: Number(process.env.FUZZ_RUNS ?? 25),
  postgres: Number(process.env.FUZZ_RUNS ?? 8),
};

const document = parse(readFileSync(join(import.meta.dir, "..", "..", "openapi.yaml"), "utf8")) as {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
};
const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({
    path,
    method: method.toUpperCase(),
    query: (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
  })),
);

const RPC_PROCEDURES = [
  "/manager.v2.Manager/GetSeedPeer",
  "/manager.v2.Manager/ListSeedPeers",
  "/manager.v2.Manager/UpdateSeedPeer",
  "/manager.v2.Manager/DeleteSeedPeer",
  "/manager.v2.Manager/GetScheduler",
  "/manager.v2.Manager/UpdateScheduler",
  "/manager.v2.Manager/ListSchedulers",
  "/manager.v2.Manager/ListApplications",
  "/libellula.manager.v1.ManagerExt/Heartbeat",
  "/libellula.manager.v1.ManagerExt/ClaimJobTasks",
  "/libellula.manager.v1.ManagerExt/ReportJobTask",
  "/libellula.manager.v1.ManagerExt/ReportStats",
];

/** Awkward scalars: huge and negative numbers, NUL, surrogates, traversal, SQL. */
const nasty = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 4 }).map(String), weight: 4 },
  fc.constantFrom("0", "-1", "1", "2", "99999999999999999999", "1e400", "NaN", "", " ", "%00", "\u0000", "\ud800", "../..", "' or 1=1 --", "null", "true", "[]", "{}"),
  fc.integer().map(String),
  fc.string({ unit: "binary", maxLength: 40 }),
);

/** JSON bodies: anything, or objects shaped like the API's with wild values. */
const jsonValue = fc.oneof(
  fc.jsonValue(),
  fc.dictionary(
    fc.constantFrom("name", "type", "args", "config", "scopes", "scheduler_cluster_ids", "scheduler_cluster_id", "seed_peer_cluster_id", "ip", "port", "host_name", "password", "email", "expired_at", "scopes", "priority", "tenant_id", "permissions", "role", "state", "value", "url", "features", "client_config", "user_id", "old_password", "new_password"),
    fc.oneof(fc.jsonValue(), fc.string({ unit: "binary" }), fc.integer(), fc.double(), fc.constant(null)),
  ),
);
/** Valid bodies of the main resources; mutated so input gets past validation into the services. */
const VALID: Record<string, unknown>[] = [
  { name: "c", scopes: { idc: "a", cidrs: ["10.0.0.0/8"], hostnames: ["^h"] }, scheduler_cluster_config: { candidate_parent_limit: 4 } },
  { host_name: "h", ip: "10.0.0.1", port: 8002, scheduler_cluster_id: 1, seed_peer_cluster_id: 1 },
  { name: "app", url: "https://a", priority: { value: 1, urls: [{ regex: "x", value: 2 }] } },
  { type: "preheat", args: { type: "file", url: "https://o/f" }, scheduler_cluster_ids: [1] },
  { type: "get_task", args: { task_id: "t" } },
  { name: "t", scopes: ["job"], expired_at: "2099-01-01T00:00:00Z" },
  { name: "cfg", value: "v" },
  { role: "r", permissions: [{ object: "jobs", action: "read" }] },
  { permissions: [{ object: "jobs", action: "*" }] },
  { bio: "b" },
];
const mutated = fc
  .tuple(fc.constantFrom(...VALID), fc.dictionary(fc.constantFrom("name", "ip", "port", "scopes", "args", "priority", "value", "bio", "tenant_id", "scheduler_cluster_id", "url"), fc.oneof(fc.jsonValue(), nasty), { maxKeys: 2 }))
  .map(([valid, changes]) => JSON.stringify({ ...valid, ...changes }));

const body = fc.oneof(
  { arbitrary: mutated, weight: 2 },
  { arbitrary: fc.constantFrom(...VALID).map((v) => JSON.stringify(v)), weight: 2 },
  jsonValue.map((v) => JSON.stringify(v)),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constant(undefined),
);

/** Percent-encodes text; unpaired surrogates become invalid UTF-8 bytes, another thing to survive. */
function escape(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return "%ED%A0%80";
  }
}

describe.each(DATABASES)("random input on %s", (kind) => {
  let m: TestManager;
  let tokens: (string | undefined)[];

  beforeAll(async () => {
    m = await startTestManager(kind);
    const root = await m.user("root");
    const guest = await m.user("guest");
    const pat = await m.call("POST", "/api/v1/personal-access-tokens", {
      token: root.token,
      body: { name: "fuzz", scopes: ["job", "cluster", "rpc"], expired_at: new Date(Date.now() + 3600_000).toISOString() },
    });
    tokens = [root.token, guest.token, pat.body.token, undefined, "garbage", `${root.token}x`];
  });
  afterAll(async () => {
    await m?.[Symbol.asyncDispose]();
  });

  test(`every REST route (${routes.length}) answers random input without 5xx`, async () => {
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(nasty, { minLength: 3, maxLength: 3 }),
          fc.dictionary(fc.constantFrom(...route.query, "page", "per_page", "junk"), nasty, { maxKeys: 2 }),
          body,
          // Sign-out gets only invalid tokens so it cannot end the sessions the other routes use.
          route.path.endsWith("/signout") ? fc.constantFrom(undefined, "garbage") : fc.oneof({ arbitrary: fc.constant(tokens[0]), weight: 4 }, fc.constantFrom(...tokens)),
          fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", ""),
          async (params, query, payload, token, contentType) => {
            let i = 0;
            const path = route.path.replace(/\{\w+\}/g, () => escape(params[i++ % params.length]!));
            const search = Object.entries(query).map(([k, v]) => `${k}=${escape(v)}`).join("&");
            const headers: Record<string, string> = {};
            if (contentType) headers["content-type"] = contentType;
            if (token) headers.authorization = `Bearer ${token}`;
            const response = await m.manager.fetch(
              new Request(`http://manager.test${path}${search ? `?${search}` : ""}`, {
                method: route.method,
                headers,
                body: route.method === "GET" ? undefined : payload,
              }),
              { ip: "127.0.0.1" },
            );
            const text = await response.text();
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            if (process.env.FUZZ_DEBUG) console.log(route.method, path, response.status);
            if (response.status >= 500) failures.push(`${route.method} ${path}?${search} ${payload?.slice(0, 80)} → ${response.status} ${text.slice(0, 200)}`);
            if (response.status >= 400) {
              let message: unknown;
              try {
                message = (JSON.parse(text) as { message?: unknown }).message;
              } catch {
                message = undefined;
              }
              if (typeof message !== "string") failures.push(`${route.method} ${path}: error without a JSON message: ${text.slice(0, 100)}`);
            }
            return true;
          },
        ),
        { numRuns: RUNS[kind] },
      ).catch((error: unknown) => failures.push(`${route.method} ${route.path}: ${String(error).slice(0, 300)}`));
    }
    expect(failures.slice(0, 10)).toEqual([]);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(routes.length * RUNS[kind]);
    // The input reaches the handlers, not only the authentication and validation layers.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(routes.length);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
  });

  test("every RPC answers random bytes and random JSON without Internal errors", async () => {
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...RPC_PROCEDURES),
        fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => ({ type: "application/proto", body: b as Uint8Array<ArrayBuffer> })), jsonValue.map((v) => ({ type: "application/json", body: JSON.stringify(v) }))),
        fc.constantFrom(...tokens),
        async (procedure, payload, token) => {
          const headers: Record<string, string> = { "content-type": payload.type };
          if (token) headers.authorization = `Bearer ${token}`;
          const response = await m.manager.fetch(new Request(`http://manager.test${procedure}`, { method: "POST", headers, body: payload.body }));
          const text = await response.text();
          if (response.status >= 500) failures.push(`${procedure} → ${response.status} ${text.slice(0, 200)}`);
          return true;
        },
      ),
      { numRuns: RUNS[kind] * 20 },
    ).catch((error: unknown) => failures.push(String(error).slice(0, 300)));
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
