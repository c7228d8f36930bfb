import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { DATABASES, startTestManager, type TestManager } from "../test-support.ts";

setDefaultTimeout(90_000);

/** API groups whose rows belong to tenants. */
const TENANT_GROUPS = [
  "clusters",
  "scheduler-clusters",
  "schedulers",
  "seed-peer-clusters",
  "seed-peers",
  "peers",
  "applications",
  "jobs",
  "personal-access-tokens",
  "tenants",
];

const document = parse(readFileSync(join(import.meta.dir, "..", "..", "..", "openapi.yaml"), "utf8")) as {
  paths: Record<string, Record<string, { security?: unknown[] }>>;
};

/** Every route with a path parameter in a tenant-owned group. */
const routes = Object.entries(document.paths).flatMap(([path, methods]) => {
  const group = /^\/o?api\/v1\/([^/]+)/.exec(path)?.[1] ?? "";
  if (!path.includes("{") || !TENANT_GROUPS.includes(group)) return [];
  return Object.keys(methods).map((method) => ({ path, method: method.toUpperCase(), group, open: path.startsWith("/oapi/") }));
});

describe.each(DATABASES)("tenant isolation on %s", (kind) => {
  let m: TestManager;
  let alice: { id: number; token: string; pat: string };
  let bob: { id: number; token: string };
  const ofBob: Record<string, number> = {};
  const ofAlice: Record<string, number> = {};

  beforeAll(async () => {
    m = await startTestManager(kind);
    const root = await m.user("root");
    const a = await m.user("alice");
    bob = await m.user("bob");
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await m.call(method, path, { token, body });
      if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const tenantA = (await call("POST", "/api/v1/tenants", root.token, { name: "tenant-a" })).id;
    const tenantB = (await call("POST", "/api/v1/tenants", root.token, { name: "tenant-b" })).id;
    for (const [user, tenant] of [[a.id, tenantA], [bob.id, tenantB]] as const) {
      await call("PUT", `/api/v1/tenants/${tenant}/users/${user}`, root.token);
      await call("DELETE", `/api/v1/tenants/1/users/${user}`, root.token);
      await call("PUT", `/api/v1/users/${user}/roles/admin`, root.token);
    }
    const make = async (token: string, into: Record<string, number>, tenant: number, who: string) => {
      into.tenants = tenant;
      const cluster = await call("POST", "/api/v1/clusters", token, { name: `${who}-c` });
      into.clusters = cluster.id;
      into.id_seed_of_cluster = cluster.seed_peer_cluster_id;
      into["scheduler-clusters"] = (await call("POST", "/api/v1/scheduler-clusters", token, { name: `${who}-sc` })).id;
      into["seed-peer-clusters"] = (await call("POST", "/api/v1/seed-peer-clusters", token, { name: `${who}-spc` })).id;
      into.schedulers = (await call("POST", "/api/v1/schedulers", token, { host_name: `${who}-s`, ip: "10.0.0.1", port: 8002, scheduler_cluster_id: cluster.id })).id;
      into["seed-peers"] = (await call("POST", "/api/v1/seed-peers", token, { host_name: `${who}-sp`, ip: "10.0.0.2", port: 4000, seed_peer_cluster_id: cluster.seed_peer_cluster_id })).id;
      into.peers = (await call("POST", "/api/v1/peers", token, { host_name: `${who}-p`, ip: "10.0.0.3", scheduler_cluster_id: cluster.id })).id;
      into.applications = (await call("POST", "/api/v1/applications", token, { name: `${who}-app` })).id;
      into.jobs = (await call("POST", "/api/v1/jobs", token, { type: "sync_peers", scheduler_cluster_ids: [cluster.id] })).id;
      const expired_at = new Date(Date.now() + 3600_000).toISOString();
      into["personal-access-tokens"] = (await call("POST", "/api/v1/personal-access-tokens", token, { name: `${who}-pat`, scopes: ["job", "cluster", "rpc"], expired_at })).id;
    };
    await make(a.token, ofAlice, tenantA, "alice");
    await make(bob.token, ofBob, tenantB, "bob");
    const pat = await call("POST", "/api/v1/personal-access-tokens", a.token, { name: "alice-open", scopes: ["job", "cluster"], expired_at: new Date(Date.now() + 3600_000).toISOString() });
    alice = { ...a, pat: pat.token };
  });
  afterAll(async () => {
    await m?.[Symbol.asyncDispose]();
  });

  test("the route table covers every tenant-owned route with an id", () => {
    expect(routes.length).toBeGreaterThanOrEqual(40);
  });

  test("every route with an id answers 404 for another tenant's rows", async () => {
    const failures: string[] = [];
    for (const route of routes) {
      const path = route.path.replace(/\{(\w+)\}/g, (_all, param: string) => {
        if (param === "id") return String(ofBob[route.group]);
        if (param === "scheduler_id") return String(ofBob.schedulers);
        if (param === "seed_peer_id") return String(ofBob["seed-peers"]);
        if (param === "scheduler_cluster_id") return String(ofBob["scheduler-clusters"]);
        if (param === "user_id") return String(bob.id);
        throw new Error(`unknown parameter ${param}`);
      });
      const body = ["PATCH", "POST"].includes(route.method) ? {} : undefined;
      const res = await m.call(route.method, path, { token: route.open ? alice.pat : alice.token, body });
      if (res.status !== 404) failures.push(`${route.method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(failures).toEqual([]);
  });

  test("links from one's own rows to another tenant's rows answer 404", async () => {
    const failures: string[] = [];
    const check = async (method: string, path: string, body?: unknown) => {
      const res = await m.call(method, path, { token: alice.token, body });
      if (res.status !== 404) failures.push(`${method} ${path} ${JSON.stringify(body)} → ${res.status}`);
    };
    await check("PUT", `/api/v1/scheduler-clusters/${ofAlice.clusters}/schedulers/${ofBob.schedulers}`);
    await check("PUT", `/api/v1/seed-peer-clusters/${ofAlice["seed-peer-clusters"]}/seed-peers/${ofBob["seed-peers"]}`);
    await check("PUT", `/api/v1/seed-peer-clusters/${ofAlice["seed-peer-clusters"]}/scheduler-clusters/${ofBob["scheduler-clusters"]}`);
    await check("POST", "/api/v1/schedulers", { host_name: "x", ip: "10.0.0.9", port: 1, scheduler_cluster_id: ofBob.clusters });
    await check("POST", "/api/v1/seed-peers", { host_name: "x", ip: "10.0.0.9", port: 1, seed_peer_cluster_id: ofBob["seed-peer-clusters"] });
    await check("POST", "/api/v1/peers", { host_name: "x", ip: "10.0.0.9", scheduler_cluster_id: ofBob.clusters });
    await check("POST", "/api/v1/jobs", { type: "sync_peers", scheduler_cluster_ids: [ofBob.clusters] });
    await check("POST", "/api/v1/scheduler-clusters", { name: "x", seed_peer_cluster_id: ofBob["seed-peer-clusters"] });
    await check("PATCH", `/api/v1/scheduler-clusters/${ofAlice["scheduler-clusters"]}`, { seed_peer_cluster_id: ofBob["seed-peer-clusters"] });
    for (const path of ["/api/v1/clusters", "/api/v1/scheduler-clusters", "/api/v1/seed-peer-clusters", "/api/v1/applications", "/api/v1/jobs", "/api/v1/personal-access-tokens"]) {
      await check("POST", path, { name: "x", type: "sync_peers", expired_at: new Date(Date.now() + 60_000).toISOString(), tenant_id: ofBob.tenants });
    }
    const open = await m.call("POST", "/oapi/v1/jobs", { token: alice.pat, body: { type: "sync_peers", scheduler_cluster_ids: [ofBob.clusters] } });
    if (open.status !== 404) failures.push(`POST /oapi/v1/jobs → ${open.status}`);
    expect(failures).toEqual([]);
  });

  test("lists hold only the caller's tenant rows", async () => {
    for (const group of ["clusters", "scheduler-clusters", "schedulers", "seed-peer-clusters", "seed-peers", "peers", "applications", "jobs", "personal-access-tokens", "tenants"]) {
      const res = await m.call("GET", `/api/v1/${group}?per_page=1000`, { token: alice.token });
      expect(res.status).toBe(200);
      const ids = (res.body as { id: number }[]).map((r) => r.id);
      expect(ids).toContain(ofAlice[group]!);
      expect(ids).not.toContain(ofBob[group]!);
    }
    const open = await m.call("GET", "/oapi/v1/clusters?per_page=1000", { token: alice.pat });
    expect((open.body as { id: number }[]).map((c) => c.id)).toEqual([ofAlice.clusters as number, ofAlice["scheduler-clusters"] as number]);
  });

  test("a tenant member cannot manage tenants", async () => {
    const res = await m.call("PUT", `/api/v1/tenants/${ofAlice.tenants}/users/${bob.id}`, { token: alice.token });
    expect(res.status).toBe(403);
  });
});
