import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { Actor } from "../../auth/actor.ts";
import { jobTask } from "../../db/schema.ts";
import { DATABASES, startTestManager, type TestManager } from "../../test-support.ts";

setDefaultTimeout(60_000);
const system: Actor = { kind: "user", userId: null, name: "t", root: true, roles: [], tenantIds: [], permissions: new Set() };

describe.each(DATABASES)("jobs on %s", (kind) => {
  let m: TestManager;
  let root: { id: number; token: string };

  beforeAll(async () => {
    m = await startTestManager(kind);
    root = await m.user("root");
  });
  afterAll(async () => {
    await m?.[Symbol.asyncDispose]();
  });

  test("a renewed lease keeps a task from other schedulers; an expired one hands it over", async () => {
    const jobs = m.manager.services.jobs;
    await jobs.claim(system, { clusterId: 1, claimer: "drain", types: [], limit: 100, leaseMs: 60_000 });
    const job = await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "preheat", args: { type: "file", url: "https://origin/lease.bin" }, scheduler_cluster_ids: [1] } });
    expect(job.status).toBe(200);
    const [task] = await jobs.claim(system, { clusterId: 1, claimer: "a", types: ["preheat"], limit: 1, leaseMs: 50 });
    expect(task?.job_id).toBe(job.body.id);
    expect(await jobs.renew(system, { clusterId: 1, claimer: "a", ids: [task!.id], leaseMs: 60_000 })).toBe(1);
    // Another claimer cannot renew, nor claim the renewed task.
    expect(await jobs.renew(system, { clusterId: 1, claimer: "b", ids: [task!.id], leaseMs: 60_000 })).toBe(0);
    expect(await jobs.claim(system, { clusterId: 1, claimer: "b", types: ["preheat"], limit: 1, leaseMs: 60_000 })).toEqual([]);
    await m.manager.database.db.update(jobTask).set({ lease_expires_at: new Date(Date.now() - 1000) }).where(eq(jobTask.id, task!.id));
    const [taken] = await jobs.claim(system, { clusterId: 1, claimer: "b", types: ["preheat"], limit: 1, leaseMs: 60_000 });
    expect(taken?.id).toBe(task!.id);
    expect(taken?.attempts).toBe(2);
    // The first scheduler's late report is refused; the new owner's settles the job.
    await expect(jobs.report(system, { id: task!.id, claimer: "a", success: true, result: null, error: "" })).rejects.toThrow("is not claimed by");
    await jobs.report(system, { id: task!.id, claimer: "b", success: false, result: { success_tasks: [], failure_tasks: [], scheduler_cluster_id: 1 }, error: "All peers preheat failed" });
    const done = await m.call("GET", `/api/v1/jobs/${job.body.id}`, { token: root.token });
    expect(done.body.state).toBe("FAILURE");
    expect(done.body.result.group_uuid).toBe(job.body.task_id);
    expect(done.body.result.job_states[0].error).toBe("All peers preheat failed");
  });

  test("a sync_peers report replaces the cluster's peer inventory", async () => {
    const jobs = m.manager.services.jobs;
    const run = async (hosts: unknown[]) => {
      const job = await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "sync_peers", scheduler_cluster_ids: [1] } });
      const [task] = await jobs.claim(system, { clusterId: 1, claimer: "s", types: ["sync_peers"], limit: 1, leaseMs: 60_000 });
      expect(task?.job_id).toBe(job.body.id);
      await jobs.report(system, { id: task!.id, claimer: "s", success: true, result: { hosts, scheduler_cluster_id: 1 }, error: "" });
      const listed = await m.call("GET", "/api/v1/peers?per_page=100", { token: root.token });
      const rows = (Array.isArray(listed.body) ? listed.body : listed.body.items) as { host_name: string; ip: string; type: string; port: number }[];
      return rows.map((r) => `${r.host_name} ${r.ip} ${r.type} ${r.port}`).sort();
    };
    expect(await run([{ hostname: "a", ip: "10.0.0.1", type: "normal", port: 4000 }, { hostname: "s", ip: "10.0.0.2", type: "super", port: 4000 }])).toEqual([
      "a 10.0.0.1 normal 4000",
      "s 10.0.0.2 super 4000",
    ]);
    expect(await run([{ hostname: "a", ip: "10.0.0.1", type: "normal", port: 4100 }])).toEqual(["a 10.0.0.1 normal 4100"]);
  });
});
