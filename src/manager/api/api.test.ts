import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq } from "drizzle-orm";
import { personalAccessToken, user } from "../db/schema.ts";
import { DATABASES, startTestManager, type TestManager } from "../test-support.ts";

setDefaultTimeout(60_000);

describe.each(DATABASES)("REST API on %s", (kind) => {
  let m: TestManager;
  let root: { id: number; token: string };
  let guest: { id: number; token: string };

  beforeAll(async () => {
    m = await startTestManager(kind, { auth: { signinAttempts: 3 } });
    root = await m.user("root");
    guest = await m.user("guest1");
  });
  afterAll(async () => {
    await m?.[Symbol.asyncDispose]();
  });

  test("/healthy answers \"OK\" without auth", async () => {
    const res = await m.call("GET", "/healthy");
    expect(res.status).toBe(200);
    expect(res.body).toBe("OK");
  });

  test("unknown paths answer JSON 404 and /metrics counts requests", async () => {
    expect(await m.call("GET", "/api/v1/nothing-here", { token: root.token })).toMatchObject({ status: 404, body: { message: 'Not found: "/api/v1/nothing-here"' } });
    const metrics = await m.call("GET", "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/libellula_manager_http_requests_total\{code="2xx"\} \d+/);
  });

  test("inactive schedulers are purged after the retention, active ones never", async () => {
    const { purgeInactive } = await import("../liveness.ts");
    const { scheduler } = await import("../db/schema.ts");
    const db = m.manager.database.db;
    const old = new Date(Date.now() - 31 * 60 * 1000);
    await db.insert(scheduler).values([
      { tenant_id: 1, host_name: "stale", ip: "10.0.0.1", port: 1, scheduler_cluster_id: 1, state: "inactive", updated_at: old },
      { tenant_id: 1, host_name: "alive", ip: "10.0.0.1", port: 1, scheduler_cluster_id: 1, state: "active", updated_at: old },
      { tenant_id: 1, host_name: "recent", ip: "10.0.0.1", port: 1, scheduler_cluster_id: 1, state: "inactive" },
    ]);
    expect(await purgeInactive(db)).toBe(1);
    const left = (await db.select({ name: scheduler.host_name }).from(scheduler)).map((r) => r.name);
    expect(left).toContain("alive");
    expect(left).toContain("recent");
    expect(left).not.toContain("stale");
    await db.delete(scheduler).where(eq(scheduler.ip, "10.0.0.1"));
  });

  test("the first account is root, later ones are guests, and there is no default password", async () => {
    expect((await m.call("GET", `/api/v1/users/${root.id}/roles`, { token: root.token })).body).toEqual(["root"]);
    expect((await m.call("GET", `/api/v1/users/${guest.id}/roles`, { token: guest.token })).body).toEqual(["guest"]);
    for (const password of ["dragonfly", "password", "root"]) {
      const res = await m.call("POST", "/api/v1/users/signin", { body: { name: "root", password }, ip: "10.9.9.9" });
      expect(res.status).toBe(401);
    }
  });

  test("passwords are stored as PBKDF2 hashes", async () => {
    const [row] = await m.manager.database.db.select().from(user).where(eq(user.id, root.id));
    expect(row!.encrypted_password).toMatch(/^pbkdf2_sha256\$600000\$/);
    expect(row!.encrypted_password).not.toContain("password-1234");
  });

  test("a fresh database holds the default cluster: scheduler cluster 1 linked to seed peer cluster 1", async () => {
    const clusters = await m.call("GET", "/api/v1/clusters", { token: root.token });
    expect(clusters.status).toBe(200);
    expect(clusters.body[0]).toMatchObject({ id: 1, name: "cluster-1", scheduler_cluster_id: 1, seed_peer_cluster_id: 1, is_default: true });
    expect(clusters.body[0].scheduler_cluster_config).toEqual({ candidate_parent_limit: 3, filter_parent_limit: 15, job_rate_limit: 10 });
    expect(clusters.body[0].peer_cluster_config).toEqual({ load_limit: 200 });
    expect(clusters.body[0].seed_peer_cluster_config).toEqual({ load_limit: 2000 });
  });

  test("sign-in is rate-limited per name and address after failures", async () => {
    await m.user("victim");
    for (let i = 0; i < 3; i++) {
      expect((await m.call("POST", "/api/v1/users/signin", { body: { name: "victim", password: "wrong-pass" }, ip: "10.0.0.66" })).status).toBe(401);
    }
    const limited = await m.call("POST", "/api/v1/users/signin", { body: { name: "victim", password: "password-1234" }, ip: "10.0.0.66" });
    expect(limited.status).toBe(429);
    expect(limited.body.message).toContain("Too many");
    const elsewhere = await m.call("POST", "/api/v1/users/signin", { body: { name: "victim", password: "password-1234" }, ip: "10.0.0.67" });
    expect(elsewhere.status).toBe(200);
  });

  test("sessions refresh, and sign-out revokes the token", async () => {
    const { token } = await m.user("sessions");
    const refreshed = await m.call("POST", "/api/v1/users/refresh_token", { token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.expire).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(refreshed.headers.get("set-cookie")).toContain("jwt=");
    expect((await m.call("GET", "/api/v1/scheduler-clusters", { token: refreshed.body.token })).status).toBe(200);
    expect((await m.call("POST", "/api/v1/users/signout", { token })).status).toBe(200);
    expect((await m.call("GET", "/api/v1/scheduler-clusters", { token: refreshed.body.token })).status).toBe(401);
    expect((await m.call("POST", "/api/v1/users/refresh_token", { token })).status).toBe(401);
    expect((await m.call("GET", "/api/v1/scheduler-clusters", { token: "garbage" })).status).toBe(401);
    expect((await m.call("GET", "/api/v1/scheduler-clusters")).body).toEqual({ message: "Unauthorized" });
  });

  test("reset_password needs the old password and ends every session", async () => {
    const { id, token } = await m.user("resetter");
    expect((await m.call("POST", `/api/v1/users/${id}/reset_password`, { body: { old_password: "nope-nope", new_password: "new-password-1" } })).status).toBe(401);
    expect((await m.call("POST", `/api/v1/users/${id}/reset_password`, { body: { old_password: "password-1234", new_password: "new-password-1" } })).status).toBe(200);
    expect((await m.call("GET", `/api/v1/users/${id}`, { token })).status).toBe(401);
    expect((await m.call("POST", "/api/v1/users/signin", { body: { name: "resetter", password: "new-password-1" } })).status).toBe(200);
  });

  test("guests read clusters but cannot write them, nor list users", async () => {
    expect((await m.call("GET", "/api/v1/scheduler-clusters", { token: guest.token })).status).toBe(200);
    const write = await m.call("POST", "/api/v1/scheduler-clusters", { token: guest.token, body: { name: "x" } });
    expect(write.status).toBe(403);
    expect(write.body.message).toBe('Permission denied: "*" on "scheduler-clusters"');
    expect((await m.call("GET", "/api/v1/users", { token: guest.token })).status).toBe(403);
    expect((await m.call("GET", `/api/v1/users/${root.id}`, { token: guest.token })).status).toBe(404);
    expect((await m.call("GET", `/api/v1/users/${guest.id}`, { token: guest.token })).body.name).toBe("guest1");
  });

  test("root grants roles; custom roles carry permissions per API group", async () => {
    const role = await m.call("POST", "/api/v1/roles", { token: root.token, body: { role: "app-writer", permissions: [{ object: "applications", action: "*" }] } });
    expect(role.status).toBe(200);
    const { id, token } = await m.user("appwriter");
    expect((await m.call("POST", "/api/v1/applications", { token, body: { name: "nope" } })).status).toBe(403);
    expect((await m.call("PUT", `/api/v1/users/${id}/roles/app-writer`, { token: root.token })).status).toBe(200);
    const created = await m.call("POST", "/api/v1/applications", { token, body: { name: "app-1", priority: { value: 2, urls: [{ regex: "^https://a/", value: 5 }] } } });
    expect(created.status).toBe(200);
    expect(created.body.priority).toEqual({ value: 2, urls: [{ regex: "^https://a/", value: 5 }] });
    expect((await m.call("DELETE", "/api/v1/roles/root", { token: root.token })).status).toBe(409);
    expect((await m.call("GET", "/api/v1/permissions", { token: guest.token })).body).toContainEqual({ object: "jobs", action: "*" });
  });

  test("personal access tokens are shown once, stored hashed, scoped, expiring and revocable", async () => {
    const expiredAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await m.call("POST", "/api/v1/personal-access-tokens", { token: root.token, body: { name: "harbor", scopes: ["job"], expired_at: expiredAt } });
    expect(created.status).toBe(200);
    const pat = created.body.token as string;
    expect(pat).toStartWith("lbl_");
    const [row] = await m.manager.database.db.select().from(personalAccessToken).where(eq(personalAccessToken.id, created.body.id));
    expect(row!.token_hash).not.toContain(pat);
    expect(JSON.stringify((await m.call("GET", `/api/v1/personal-access-tokens/${created.body.id}`, { token: root.token })).body)).not.toContain(pat);

    expect((await m.call("GET", "/oapi/v1/jobs", { token: pat })).status).toBe(200);
    expect((await m.call("GET", `/oapi/v1/jobs?access_token=${pat}`)).status).toBe(200);
    const noScope = await m.call("GET", "/oapi/v1/clusters", { token: pat });
    expect(noScope.status).toBe(403);
    expect((await m.call("GET", "/oapi/v1/jobs", { token: "lbl_unknown" })).status).toBe(401);
    expect((await m.call("GET", "/oapi/v1/jobs")).status).toBe(401);
    expect((await m.call("GET", "/oapi/v1/jobs", { token: root.token })).status).toBe(401);

    const job = await m.call("POST", "/oapi/v1/jobs", {
      token: pat,
      body: {
        type: "preheat",
        args: { type: "image", url: "https://harbor.example.com/v2/library/alpine/manifests/3.19", tag: "", filtered_query_params: "", headers: { Authorization: "Bearer x" }, scope: "all_peers", concurrent_count: 0, timeout: 0 },
        scheduler_cluster_ids: null,
      },
    });
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ type: "preheat", state: "PENDING", scheduler_clusters: [{ id: 1, name: "cluster-1" }] });
    expect(job.body.args).toMatchObject({ scope: "all_peers", concurrent_task_count: 8, concurrent_peer_count: 500, timeout: 3_600_000_000_000 });
    const polled = await m.call("GET", `/oapi/v1/jobs/${job.body.id}`, { token: pat });
    expect(polled.body.state).toBe("PENDING");
    expect(new Date(polled.body.created_at).toISOString()).toBe(polled.body.created_at);

    expect((await m.call("PATCH", `/api/v1/personal-access-tokens/${created.body.id}`, { token: root.token, body: { state: "inactive" } })).status).toBe(200);
    const revoked = await m.call("GET", "/oapi/v1/jobs", { token: pat });
    expect(revoked.status).toBe(403);
    expect(revoked.body.message).toBe("Token is inactive");

    const guestTokens = await m.call("GET", "/api/v1/personal-access-tokens", { token: guest.token });
    expect(guestTokens.body).toEqual([]);
    expect((await m.call("GET", `/api/v1/personal-access-tokens/${created.body.id}`, { token: guest.token })).status).toBe(404);
    expect((await m.call("POST", "/api/v1/personal-access-tokens", { token: root.token, body: { name: "old", expired_at: "2001-01-01T00:00:00Z" } })).status).toBe(400);
  });

  test("expired tokens answer 403 \"Token has expired\"", async () => {
    const created = await m.call("POST", "/api/v1/personal-access-tokens", { token: root.token, body: { name: "short", expired_at: new Date(Date.now() + 60_000).toISOString() } });
    await m.manager.database.db.update(personalAccessToken).set({ expired_at: new Date(Date.now() - 1000) }).where(eq(personalAccessToken.id, created.body.id));
    const res = await m.call("GET", "/oapi/v1/clusters", { token: created.body.token });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe("Token has expired");
  });

  test("lists page with a Link header; conflicts answer 409; missing rows 404", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await m.call("POST", "/api/v1/seed-peer-clusters", { token: root.token, body: { name: `page-${i}` } })).status).toBe(200);
    }
    const page = await m.call("GET", "/api/v1/seed-peer-clusters?page=2&per_page=2", { token: root.token });
    expect(page.body.length).toBe(2);
    expect(page.headers.get("link")).toContain('rel="prev"');
    expect(page.headers.get("link")).toContain("page=1&per_page=2>; rel=\"first\"");
    const dup = await m.call("POST", "/api/v1/seed-peer-clusters", { token: root.token, body: { name: "page-0" } });
    expect(dup.status).toBe(409);
    expect(dup.body.message).toBe("Seed peer cluster already exists");
    const missing = await m.call("GET", "/api/v1/seed-peer-clusters/999999", { token: root.token });
    expect(missing).toMatchObject({ status: 404, body: { message: 'Seed peer cluster "999999" not found' } });
  });

  test("clusters are created as a linked pair and cannot be deleted while schedulers remain", async () => {
    const created = await m.call("POST", "/api/v1/clusters", { token: root.token, body: { name: "east", scopes: { idc: "east-1", cidrs: ["10.8.0.0/16"] }, peer_cluster_config: { load_limit: 50 } } });
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    expect(created.body.peer_cluster_config).toEqual({ load_limit: 50 });
    const scheduler = await m.call("POST", "/api/v1/schedulers", { token: root.token, body: { host_name: "east-s1", ip: "10.8.0.2", port: 8002, scheduler_cluster_id: id } });
    expect(scheduler.status).toBe(200);
    expect((await m.call("DELETE", `/api/v1/clusters/${id}`, { token: root.token })).status).toBe(409);
    expect((await m.call("DELETE", `/api/v1/schedulers/${scheduler.body.id}`, { token: root.token })).status).toBe(200);
    expect((await m.call("DELETE", `/api/v1/clusters/${id}`, { token: root.token })).status).toBe(200);
    expect((await m.call("GET", `/api/v1/seed-peer-clusters/${created.body.seed_peer_cluster_id}`, { token: root.token })).status).toBe(404);
  });

  test("bad input names the field and never answers 5xx", async () => {
    const bad = await m.call("POST", "/api/v1/scheduler-clusters", { token: root.token, body: { name: "x", config: { candidate_parent_limit: 99 } } });
    expect(bad.status).toBe(422);
    expect(bad.body.message).toContain('"config.candidate_parent_limit"');
    const nul = await m.call("POST", "/api/v1/applications", { token: root.token, body: { name: "a\u0000b" } });
    expect(nul.status).toBe(422);
    const json = await m.call("POST", "/api/v1/applications", { token: root.token, body: { name: "ok", priority: { value: 1, urls: [{ regex: "(", value: 1 }] } } });
    expect(json.status).toBe(422);
    expect((await m.call("GET", "/api/v1/schedulers/abc", { token: root.token })).status).toBe(422);
    expect((await m.call("GET", "/api/v1/schedulers?per_page=0", { token: root.token })).status).toBe(422);
    expect((await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "unknown" } })).status).toBe(422);
    expect((await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "preheat", args: { type: "image", url: "https://x/not-a-manifest" } } })).status).toBe(400);
    expect((await m.call("POST", "/api/v1/applications", { token: root.token, body: "{" })).status).toBe(400);
    const form = await m.call("POST", "/api/v1/applications", { token: root.token, body: JSON.stringify({ name: "curl-form" }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.status).toBe(200);
  });

  test("the job rate limit of a cluster answers 429", async () => {
    const created = await m.call("POST", "/api/v1/scheduler-clusters", { token: root.token, body: { name: "limited", config: { job_rate_limit: 2 } } });
    const body = { type: "sync_peers", scheduler_cluster_ids: [created.body.id] };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await m.call("POST", "/api/v1/jobs", { token: root.token, body })).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
  });
});
