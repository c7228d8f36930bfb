import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ManagerExt, type ReportStatsRequestSchema } from "../../../gen/libellula/manager/v1/manager_ext_pb.ts";
import { Manager, SourceType } from "../../../gen/manager/v2/manager_pb.ts";
import { DATABASES, startTestManager, type TestManager } from "../../test-support.ts";
import { STATS_RETENTION_MS } from "./service.ts";

setDefaultTimeout(60_000);

const TASK = "a".repeat(64);
const host = (name: string, type = "normal") => ({ id: `${name}-id`, hostname: name, ip: "10.0.0.9", type });

describe.each(DATABASES)("scheduler stats on %s", (kind) => {
  let m: TestManager;
  let server: ReturnType<typeof Bun.serve>;
  let manager: Client<typeof Manager>;
  let ext: Client<typeof ManagerExt>;
  let root: { id: number; token: string };

  const report = (fields: MessageInitShape<typeof ReportStatsRequestSchema>) =>
    ext.reportStats({ hostname: "sched-1", ip: "10.0.0.1", schedulerClusterId: 1n, ...fields });

  beforeAll(async () => {
    m = await startTestManager(kind, { keepAlive: { intervalMs: 60_000 } });
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => m.manager.fetch(request, { ip: "127.0.0.1" }) });
    const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" });
    manager = createClient(Manager, transport);
    ext = createClient(ManagerExt, transport);
    root = await m.user("root");
    await manager.updateScheduler({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-1", ip: "10.0.0.1", port: 8002, schedulerClusterId: 1n });
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-1", ip: "10.0.0.1", clusterId: 1n, intervalMs: 60_000 });
  });
  afterAll(async () => {
    await server?.stop(true);
    await m?.[Symbol.asyncDispose]();
  });

  test("reports add up per bucket and per transfer; traffic, cluster stats and the task graph read them back", async () => {
    const seed = host("seed", "super");
    const peer = host("peer");
    await report({
      backToSourceBytes: 1000n,
      remotePeerBytes: 0n,
      activeTasks: 1,
      activePeers: 1,
      hosts: 2,
      version: "9.9.9",
      commit: "abc123",
      transfers: [{ taskId: TASK, child: seed, bytes: 1000n, pieces: 2 }],
    });
    await report({
      remotePeerBytes: 3000n,
      localPeerBytes: 1000n,
      activeTasks: 1,
      activePeers: 2,
      hosts: 2,
      transfers: [
        { taskId: TASK, child: peer, parent: seed, bytes: 1000n, pieces: 1 },
        { taskId: TASK, child: peer, parent: seed, bytes: 2000n, pieces: 2 },
      ],
    });

    const traffic = await m.call("GET", "/api/v1/traffic?scheduler_cluster_id=1&step=60", { token: root.token });
    expect(traffic.status).toBe(200);
    expect(traffic.body.totals).toEqual({ back_to_source_bytes: 1000, peer_bytes: 3000, local_bytes: 1000 });
    expect(traffic.body.hit_ratio).toBeCloseTo(0.8, 6);
    expect(traffic.body.step_seconds).toBe(60);
    const nonZero = traffic.body.series.filter((p: { peer_bytes: number; back_to_source_bytes: number }) => p.peer_bytes + p.back_to_source_bytes > 0);
    expect(nonZero.length).toBeGreaterThanOrEqual(1);
    expect(traffic.body.series.length).toBeGreaterThanOrEqual(24 * 60);

    const stats = await m.call("GET", "/api/v1/cluster-stats", { token: root.token });
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual([
      expect.objectContaining({ scheduler_cluster_id: 1, schedulers: 1, seed_peers: 0, active_tasks: 1, active_peers: 2, hosts: 2 }),
    ]);

    const graph = await m.call("GET", `/api/v1/tasks/${TASK}/graph?scheduler_cluster_id=1`, { token: root.token });
    expect(graph.status).toBe(200);
    expect(graph.body.edges).toEqual([
      expect.objectContaining({ parent: "origin", child: "seed-id", bytes: 1000, pieces: 2 }),
      expect.objectContaining({ parent: "seed-id", child: "peer-id", bytes: 3000, pieces: 3 }),
    ]);
    const nodes = Object.fromEntries(graph.body.peers.map((p: { id: string }) => [p.id, p]));
    expect(nodes["seed-id"]).toMatchObject({ hostname: "seed", host_type: "super", received_bytes: 1000, served_bytes: 3000 });
    expect(nodes["peer-id"]).toMatchObject({ hostname: "peer", host_type: "normal", received_bytes: 3000, served_bytes: 0, pieces: 3 });
    expect(nodes.origin).toMatchObject({ host_type: "origin", served_bytes: 1000 });

    const recent = await m.call("GET", "/api/v1/traffic/tasks?scheduler_cluster_id=1", { token: root.token });
    expect(recent.status).toBe(200);
    expect(recent.body).toEqual([
      expect.objectContaining({ task_id: TASK, scheduler_cluster_id: 1, hosts: 2, bytes: 4000, back_to_source_bytes: 1000 }),
    ]);
    expect((await m.call("GET", "/api/v1/traffic/tasks?limit=0", { token: root.token })).status).toBe(422);

    const schedulers = await m.call("GET", "/api/v1/schedulers", { token: root.token });
    expect(schedulers.body[0]).toMatchObject({ host_name: "sched-1", git_version: "9.9.9", git_commit: "abc123", state: "active" });
  });

  test("an unknown task has an empty graph; a range without reports is all zeros with no hit ratio", async () => {
    const graph = await m.call("GET", `/api/v1/tasks/${"b".repeat(64)}/graph`, { token: root.token });
    expect(graph.status).toBe(200);
    expect(graph.body).toEqual({ task_id: "b".repeat(64), scheduler_cluster_id: null, peers: [], edges: [] });
    const from = new Date(Date.now() - 3 * 86400_000).toISOString();
    const to = new Date(Date.now() - 2 * 86400_000).toISOString();
    const traffic = await m.call("GET", `/api/v1/traffic?from=${from}&to=${to}&step=3600`, { token: root.token });
    expect(traffic.status).toBe(200);
    expect(traffic.body.series).toHaveLength(25);
    expect(traffic.body.totals).toEqual({ back_to_source_bytes: 0, peer_bytes: 0, local_bytes: 0 });
    expect(traffic.body.hit_ratio).toBeNull();
  });

  test("bad queries and reports get errors that name the field", async () => {
    const step = await m.call("GET", "/api/v1/traffic?step=90", { token: root.token });
    expect(step.status).toBe(422);
    expect(JSON.stringify(step.body)).toContain("multiple of 60");
    const order = await m.call("GET", `/api/v1/traffic?from=${new Date().toISOString()}&to=${new Date(Date.now() - 60_000).toISOString()}`, { token: root.token });
    expect(order.status).toBe(400);
    expect(order.body.message).toContain('"from"');
    const many = await m.call("GET", `/api/v1/traffic?from=${new Date(Date.now() - 6 * 86400_000).toISOString()}&step=60`, { token: root.token });
    expect(many.status).toBe(400);
    expect(many.body.message).toContain('"step"');
    const task = await m.call("GET", "/api/v1/tasks/bad%20id/graph", { token: root.token });
    expect(task.status).toBe(422);
    expect(JSON.stringify(task.body)).toContain("letters, digits");
    const cluster = await m.call("GET", "/api/v1/traffic?scheduler_cluster_id=999", { token: root.token });
    expect(cluster.status).toBe(404);
    const anonymous = await m.call("GET", "/api/v1/cluster-stats");
    expect(anonymous.status).toBe(401);

    const unknown = await ext.reportStats({ hostname: "nobody", ip: "10.0.0.2", schedulerClusterId: 1n }).catch((e) => e);
    expect(unknown).toBeInstanceOf(ConnectError);
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
    const noChild = await report({ transfers: [{ taskId: TASK, bytes: 1n, pieces: 1 }] }).catch((e) => e);
    expect((noChild as ConnectError).code).toBe(Code.InvalidArgument);
    expect((noChild as ConnectError).rawMessage).toContain("transfers[0].child");
  });

  test("another tenant's user sees none of it", async () => {
    const tenant = await m.call("POST", "/api/v1/tenants", { token: root.token, body: { name: "other" } });
    expect(tenant.status).toBe(200);
    const other = await m.user("outsider");
    const added = await m.call("PUT", `/api/v1/tenants/${tenant.body.id}/users/${other.id}`, { token: root.token });
    expect([200, 204]).toContain(added.status);
    const removed = await m.call("DELETE", `/api/v1/tenants/1/users/${other.id}`, { token: root.token });
    expect([200, 204, 404]).toContain(removed.status);
    const roles = await m.call("PUT", `/api/v1/users/${other.id}/roles/guest`, { token: root.token });
    expect([200, 204]).toContain(roles.status);
    const signin = await m.call("POST", "/api/v1/users/signin", { body: { name: "outsider", password: "password-1234" } });
    const token = signin.body.token as string;
    const traffic = await m.call("GET", "/api/v1/traffic", { token });
    expect(traffic.status).toBe(200);
    expect(traffic.body.totals).toEqual({ back_to_source_bytes: 0, peer_bytes: 0, local_bytes: 0 });
    const graph = await m.call("GET", `/api/v1/tasks/${TASK}/graph`, { token });
    expect(graph.body.edges).toEqual([]);
    expect((await m.call("GET", "/api/v1/traffic/tasks", { token })).body).toEqual([]);
    const stats = await m.call("GET", "/api/v1/cluster-stats", { token });
    expect(stats.body.map((s: { scheduler_cluster_id: number }) => s.scheduler_cluster_id)).not.toContain(1);
  });

  test("seed peers the scheduler reports are listed as active with their version, and turn inactive when no longer reported", async () => {
    const seed = { hostname: "seed-a", ip: "10.0.0.5", type: "super", idc: "dc1", location: "", port: 4000, downloadPort: 4005, version: "1.2.3", commit: "c0ffee" };
    await report({ seedPeers: [seed], intervalMs: 200 });
    const listed = await m.call("GET", "/api/v1/seed-peers?seed_peer_cluster_id=1", { token: root.token });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      expect.objectContaining({ host_name: "seed-a", ip: "10.0.0.5", port: 4000, download_port: 4005, state: "active", git_version: "1.2.3", git_commit: "c0ffee", idc: "dc1" }),
    ]);
    expect(Date.parse(listed.body[0].last_keep_alive_at)).toBeGreaterThan(Date.now() - 60_000);
    const stats = await m.call("GET", "/api/v1/cluster-stats", { token: root.token });
    expect(stats.body.find((s: { scheduler_cluster_id: number }) => s.scheduler_cluster_id === 1).seed_peers).toBe(1);
    // The scheduler hands it to its peers' searches: GetScheduler lists it among the cluster's seed peers.
    const view = await manager.getScheduler({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-1", ip: "10.0.0.1", schedulerClusterId: 1n });
    expect(view.seedPeers.map((p) => `${p.hostname} ${p.ip}:${p.port}`)).toEqual(["seed-a 10.0.0.5:4000"]);
    // Three intervals (600 ms) without a report: no longer alive.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const again = await m.call("GET", "/api/v1/cluster-stats", { token: root.token });
      if (again.body.find((s: { scheduler_cluster_id: number }) => s.scheduler_cluster_id === 1).seed_peers === 0) break;
      await Bun.sleep(100);
    }
    const later = await m.call("GET", "/api/v1/cluster-stats", { token: root.token });
    expect(later.body.find((s: { scheduler_cluster_id: number }) => s.scheduler_cluster_id === 1).seed_peers).toBe(0);
    const bad = await report({ seedPeers: [{ ...seed, type: "giant" }] }).catch((e) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain('"seed_peers[0].type"');
  });

  test("buckets and transfers older than the retention are removed by the next report", async () => {
    const stats = m.manager.services.stats;
    const actor = { kind: "anonymous", userId: null, name: "test", root: true, roles: [], tenantIds: [1], permissions: new Set<string>() } as const;
    const old = Date.now() - STATS_RETENTION_MS - 3600_000;
    const oldTask = "c".repeat(64);
    const input = {
      hostname: "sched-1", ip: "10.0.0.1", clusterId: 1, backToSourceBytes: 77, remotePeerBytes: 0, localPeerBytes: 0,
      activeTasks: 0, activePeers: 0, hosts: 0, version: "", commit: "",
      transfers: [{ taskId: oldTask, child: host("old"), parent: undefined, bytes: 77, pieces: 1 }],
    };
    await stats.report(actor, input, old);
    const before = await stats.traffic(actor, { from: new Date(old - 60_000).toISOString(), to: new Date(old + 60_000).toISOString() });
    expect(before.totals.back_to_source_bytes).toBe(77);
    // The old report pruned nothing of its own; a report made now (a minute later for the prune throttle) does.
    await stats.report(actor, { ...input, transfers: [], backToSourceBytes: 0 }, Date.now() + 120_000);
    const after = await stats.traffic(actor, { from: new Date(old - 60_000).toISOString(), to: new Date(old + 60_000).toISOString() });
    expect(after.totals.back_to_source_bytes).toBe(0);
    expect((await stats.taskGraph(actor, oldTask)).edges).toEqual([]);
  });
});
