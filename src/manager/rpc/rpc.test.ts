import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createGrpcClient, startGrpcServer, type GrpcServer } from "../../common/rpc.ts";
import { ManagerExt } from "../../gen/libellula/manager/v1/manager_ext_pb.ts";
import { KeepAliveRequestSchema, Manager, SourceType, type KeepAliveRequest } from "../../gen/manager/v2/manager_pb.ts";
import { DATABASES, startTestManager, type TestManager } from "../test-support.ts";
import { rpcRoutes } from "./handler.ts";

setDefaultTimeout(60_000);

/** Polls until `check` holds or the deadline passes; returns the elapsed milliseconds. */
async function until(check: () => Promise<boolean>, deadlineMs = 5000): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > deadlineMs) throw new Error("Condition not met before the deadline");
    await new Promise((resolve) => setImmediate(resolve));
  }
  return performance.now() - start;
}

const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

describe.each(DATABASES)("manager RPC on %s", (kind) => {
  let m: TestManager;
  let server: ReturnType<typeof Bun.serve>;
  let grpc: GrpcServer;
  let manager: Client<typeof Manager>;
  let ext: Client<typeof ManagerExt>;
  let root: { id: number; token: string };

  beforeAll(async () => {
    m = await startTestManager(kind);
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => m.manager.fetch(request, { ip: "127.0.0.1" }) });
    const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "1.1" });
    manager = createClient(Manager, transport);
    ext = createClient(ManagerExt, transport);
    grpc = await startGrpcServer({
      routes: rpcRoutes({ services: m.manager.services, auth: m.manager.services.auth, config: m.config }),
      listen: { host: "127.0.0.1", port: 0 },
    });
    root = await m.user("root");
  });
  afterAll(async () => {
    await grpc?.stop();
    await server?.stop(true);
    await m?.[Symbol.asyncDispose]();
  });

  const list = async (request: { hostname?: string; ip?: string; schedulerClusterId?: bigint } = {}, headers?: Record<string, string>) =>
    (await manager.listSchedulers({ sourceType: SourceType.PEER_SOURCE, hostname: "peer-1", ip: "10.1.2.3", ...request }, { headers })).schedulers;

  test("a registered scheduler joins the default cluster, inactive until it heartbeats", async () => {
    const config = new TextEncoder().encode(JSON.stringify({ manager_keep_alive_interval: 5_000_000_000 }));
    const registered = await manager.updateScheduler({ hostname: "sched-a", ip: "10.0.0.10", port: 8002, config });
    expect(registered.schedulerClusterId).toBe(1n);
    expect(registered.state).toBe("inactive");
    expect(decode(registered.features)).toEqual(["schedule", "preheat"]);
    expect(decode(registered.schedulerCluster!.config)).toEqual({ candidate_parent_limit: 3, filter_parent_limit: 15, job_rate_limit: 10 });
    expect((await list()).map((s) => s.hostname)).not.toContain("sched-a");
    const beat = await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-a", ip: "10.0.0.10", clusterId: 0n });
    expect(beat.intervalMs).toBe(5000);
    const found = await list();
    expect(found.map((s) => s.hostname)).toContain("sched-a");
    expect(found.find((s) => s.hostname === "sched-a")!.port).toBe(8002);
  });

  test("GetScheduler returns the cluster's configs and its active seed peers", async () => {
    const seed = await manager.updateSeedPeer({ hostname: "seed-1", ip: "10.0.0.20", port: 4000, downloadPort: 4001, type: "super" });
    expect(seed.state).toBe("active");
    expect(seed.seedPeerClusterId).toBe(1n);
    const got = await manager.getScheduler({ hostname: "sched-a", ip: "10.0.0.10", schedulerClusterId: 0n });
    expect(got.hostname).toBe("sched-a");
    expect(decode(got.schedulerCluster!.clientConfig)).toEqual({ load_limit: 200 });
    expect(got.seedPeers.map((p) => p.hostname)).toEqual(["seed-1"]);
    expect(decode(got.seedPeers[0]!.seedPeerCluster!.config)).toEqual({ load_limit: 2000 });
    const seeds = await manager.listSeedPeers({ hostname: "seed-1", ip: "10.0.0.20" });
    expect(seeds.seedPeers.map((p) => p.hostname)).toEqual(["seed-1"]);
    const seedView = await manager.getSeedPeer({ hostname: "seed-1", ip: "10.0.0.20", seedPeerClusterId: 1n });
    expect(seedView.schedulers.map((s) => s.hostname)).toContain("sched-a");
    const missing = await manager.getScheduler({ hostname: "nobody", ip: "10.0.0.99" }).catch((e: unknown) => e);
    expect(ConnectError.from(missing).code).toBe(Code.NotFound);
  });

  test("a scheduler that stops heartbeating leaves ListSchedulers within three intervals", async () => {
    await manager.updateScheduler({ hostname: "sched-short", ip: "10.0.0.11", port: 8002 });
    const intervalMs = 100;
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-short", ip: "10.0.0.11", intervalMs });
    const beatAt = performance.now();
    expect((await list()).map((s) => s.hostname)).toContain("sched-short");
    await until(async () => !(await list()).some((s) => s.hostname === "sched-short"));
    const gone = performance.now() - beatAt;
    expect(gone).toBeGreaterThan(2 * intervalMs);
    expect(gone).toBeLessThan(3 * intervalMs + 1000);
    await until(async () => {
      const res = await m.call("GET", "/api/v1/schedulers?host_name=sched-short", { token: root.token });
      return res.body[0]?.state === "inactive";
    });
  });

  test("the boundary is exactly three intervals after the last heartbeat", async () => {
    const { scheduler } = await import("../db/schema.ts");
    const { eq, sql } = await import("drizzle-orm");
    await manager.updateScheduler({ hostname: "sched-edge", ip: "10.0.0.13", port: 8002 });
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-edge", ip: "10.0.0.13", intervalMs: 10_000 });
    const at = async (secondsAgo: number) => {
      await m.manager.database.db
        .update(scheduler)
        .set({ last_keep_alive_at: sql`now() - make_interval(secs => ${secondsAgo})` })
        .where(eq(scheduler.host_name, "sched-edge"));
      return (await list()).some((s) => s.hostname === "sched-edge");
    };
    expect(await at(29)).toBe(true);
    expect(await at(31)).toBe(false);
    // Once stale, only a new heartbeat brings it back (the sweeper may already have marked it inactive).
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-edge", ip: "10.0.0.13", intervalMs: 10_000 });
    expect((await list()).some((s) => s.hostname === "sched-edge")).toBe(true);
  });

  test("KeepAlive over HTTP/2 keeps a scheduler active while the stream is open", async () => {
    await manager.updateScheduler({ hostname: "sched-stream", ip: "10.0.0.12", port: 8002 });
    const transport = createGrpcClient(`127.0.0.1:${grpc.port}`);
    const client = createClient(Manager, transport);
    let send!: (message: KeepAliveRequest | null) => void;
    const queue: (KeepAliveRequest | null)[] = [];
    let wake: (() => void) | undefined;
    send = (message) => {
      queue.push(message);
      wake?.();
    };
    async function* messages() {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const next = queue.shift()!;
        if (next === null) return;
        yield next;
      }
    }
    const call = client.keepAlive(messages());
    send(create(KeepAliveRequestSchema, { sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-stream", ip: "10.0.0.12", clusterId: 1n }));
    await until(async () => (await list()).some((s) => s.hostname === "sched-stream"));
    send(null);
    await call;
    await until(async () => {
      const res = await m.call("GET", "/api/v1/schedulers?host_name=sched-stream", { token: root.token });
      return res.body[0]?.state === "inactive";
    });
    expect((await list()).map((s) => s.hostname)).not.toContain("sched-stream");
    transport.close();
  });

  test("the searcher puts the cluster whose scopes match the peer first", async () => {
    const created = await m.call("POST", "/api/v1/clusters", { token: root.token, body: { name: "gpu", scopes: { cidrs: ["10.77.0.0/16"], idc: "gpu-1" } } });
    expect(created.status).toBe(200);
    const clusterId = BigInt(created.body.id);
    await manager.updateScheduler({ hostname: "sched-gpu", ip: "10.77.0.2", port: 8002, schedulerClusterId: clusterId });
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-gpu", ip: "10.77.0.2", clusterId, intervalMs: 60_000 });
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-a", ip: "10.0.0.10", clusterId: 1n, intervalMs: 60_000 });
    const gpuPeer = await list({ ip: "10.77.3.4" });
    expect(gpuPeer[0]!.hostname).toBe("sched-gpu");
    expect(gpuPeer.map((s) => s.hostname)).toContain("sched-a");
    const otherPeer = await list({ ip: "192.168.0.5" });
    expect(otherPeer[0]!.hostname).toBe("sched-a");
    const byCluster = await list({ schedulerClusterId: clusterId });
    expect(byCluster.map((s) => s.hostname)).toEqual(["sched-gpu"]);
  });

  test("ListApplications returns the tenant's applications with priorities", async () => {
    await m.call("POST", "/api/v1/applications", { token: root.token, body: { name: "ai", url: "https://ai", priority: { value: 3, urls: [{ regex: "model", value: 6 }] } } });
    const apps = await manager.listApplications({ hostname: "sched-a", ip: "10.0.0.10" });
    const ai = apps.applications.find((a) => a.name === "ai")!;
    expect(ai.priority!.value).toBe(3);
    expect(ai.priority!.urls[0]).toMatchObject({ regex: "model", value: 6 });
  });

  test("schedulers claim job tasks once and the job settles when the last task ends", async () => {
    const job = await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "preheat", args: { type: "file", url: "https://origin/file.bin" }, scheduler_cluster_ids: [1] } });
    expect(job.status).toBe(200);
    const claim = { hostname: "sched-a", ip: "10.0.0.10", schedulerClusterId: 1n, types: ["preheat"], limit: 10 };
    const [first, second] = await Promise.all([ext.claimJobTasks(claim), ext.claimJobTasks({ ...claim, hostname: "sched-b" })]);
    const tasks = [...first.tasks, ...second.tasks];
    expect(tasks.length).toBe(1);
    const task = tasks[0]!;
    const claimer = first.tasks.length === 1 ? "sched-a" : "sched-b";
    expect(decode(task.args)).toMatchObject({ type: "file", urls: ["https://origin/file.bin"], scope: "single_seed_peer" });
    const wrong = await ext.reportJobTask({ id: task.id, hostname: "intruder", ip: "10.0.0.10", success: true }).catch((e: unknown) => e);
    expect(ConnectError.from(wrong).code).toBe(Code.FailedPrecondition);
    const result = { success_tasks: [{ url: "https://origin/file.bin", hostname: "seed-1", ip: "10.0.0.20" }], failure_tasks: [], scheduler_cluster_id: 1 };
    await ext.reportJobTask({ id: task.id, hostname: claimer, ip: "10.0.0.10", success: true, result: new TextEncoder().encode(JSON.stringify(result)) });
    const done = await m.call("GET", `/api/v1/jobs/${job.body.id}`, { token: root.token });
    expect(done.body.state).toBe("SUCCESS");
    expect(done.body.result.job_states[0].results[0]).toEqual(result);
    expect((await ext.claimJobTasks(claim)).tasks.length).toBe(0);
  });

  test("a job past its timeout fails at once, with the reason in its result", async () => {
    const job = await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "preheat", args: { type: "file", url: "https://origin/slow.bin", timeout: 1 }, scheduler_cluster_ids: [1] } });
    expect(job.body.state).toBe("PENDING");
    expect(await m.manager.services.jobs.expire()).toBeGreaterThanOrEqual(1);
    const done = await m.call("GET", `/api/v1/jobs/${job.body.id}`, { token: root.token });
    expect(done.body.state).toBe("FAILURE");
    expect(done.body.result.job_states[0].error).toBe("Job timed out: no scheduler of the cluster finished it in time");
    const later = await m.call("POST", "/api/v1/jobs", { token: root.token, body: { type: "preheat", args: { type: "file", url: "https://origin/ok.bin" }, scheduler_cluster_ids: [1] } });
    await m.manager.services.jobs.expire();
    expect((await m.call("GET", `/api/v1/jobs/${later.body.id}`, { token: root.token })).body.state).toBe("PENDING");
    await m.manager.services.jobs.claim({ kind: "user", userId: null, name: "t", root: true, roles: [], tenantIds: [], permissions: new Set() }, { clusterId: 1, claimer: "drain", types: [], limit: 100, leaseMs: 60_000 });
  });

  test("bad input answers InvalidArgument, never Internal", async () => {
    for (const request of [
      { hostname: "x", ip: "not an ip", port: 1 },
      { hostname: "", ip: "10.0.0.1", port: 1 },
      { hostname: "x", ip: "10.0.0.1", port: 1, config: new TextEncoder().encode("{oops") },
      { hostname: "x", ip: "10.0.0.1", port: 70000 },
      { hostname: "x", ip: "10.0.0.1", port: 1, schedulerClusterId: 1n << 40n },
    ]) {
      const error = await manager.updateScheduler(request).catch((e: unknown) => e);
      expect(ConnectError.from(error).code).toBe(Code.InvalidArgument);
    }
  });

  test("RPC callers see only their tenant: a token of another tenant gets NotFound", async () => {
    const tenant = await m.call("POST", "/api/v1/tenants", { token: root.token, body: { name: "rpc-b" } });
    const other = await m.user("rpc-bob");
    await m.call("PUT", `/api/v1/tenants/${tenant.body.id}/users/${other.id}`, { token: root.token });
    await m.call("DELETE", `/api/v1/tenants/1/users/${other.id}`, { token: root.token });
    await m.call("PUT", `/api/v1/users/${other.id}/roles/admin`, { token: root.token });
    const signin = await m.call("POST", "/api/v1/users/signin", { body: { name: "rpc-bob", password: "password-1234" } });
    const cluster = await m.call("POST", "/api/v1/clusters", { token: signin.body.token, body: { name: "b-cluster" } });
    expect(cluster.status).toBe(200);
    const pat = await m.call("POST", "/api/v1/personal-access-tokens", { token: signin.body.token, body: { name: "b-rpc", scopes: ["rpc"], expired_at: new Date(Date.now() + 3600_000).toISOString() } });
    const headers = { authorization: `Bearer ${pat.body.token}` };
    const registered = await manager.updateScheduler({ hostname: "b-sched", ip: "10.5.0.1", port: 8002 }, { headers });
    expect(registered.schedulerClusterId).toBe(BigInt(cluster.body.id));
    await ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "b-sched", ip: "10.5.0.1", intervalMs: 60_000 }, { headers });
    expect((await list({}, headers)).map((s) => s.hostname)).toEqual(["b-sched"]);
    expect((await list()).map((s) => s.hostname)).not.toContain("b-sched");
    const codes = await Promise.all([
      manager.getScheduler({ hostname: "sched-a", ip: "10.0.0.10", schedulerClusterId: 1n }, { headers }).catch((e: unknown) => ConnectError.from(e).code),
      manager.getScheduler({ hostname: "b-sched", ip: "10.5.0.1", schedulerClusterId: BigInt(cluster.body.id) }).catch((e: unknown) => ConnectError.from(e).code),
      manager.updateScheduler({ hostname: "b-sneak", ip: "10.5.0.2", port: 1, schedulerClusterId: 1n }, { headers }).catch((e: unknown) => ConnectError.from(e).code),
      ext.claimJobTasks({ hostname: "b-sched", ip: "10.5.0.1", schedulerClusterId: 1n }, { headers }).catch((e: unknown) => ConnectError.from(e).code),
      ext.heartbeat({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "sched-a", ip: "10.0.0.10", clusterId: 1n }, { headers }).catch((e: unknown) => ConnectError.from(e).code),
    ]);
    expect(codes).toEqual([Code.NotFound, Code.NotFound, Code.NotFound, Code.NotFound, Code.NotFound]);
    const apps = await manager.listApplications({ hostname: "b-sched", ip: "10.5.0.1" }, { headers });
    expect(apps.applications).toEqual([]);
    const noScope = await m.call("POST", "/api/v1/personal-access-tokens", { token: signin.body.token, body: { name: "b-job", scopes: ["job"], expired_at: new Date(Date.now() + 3600_000).toISOString() } });
    const denied = await list({}, { authorization: `Bearer ${noScope.body.token}` }).catch((e: unknown) => ConnectError.from(e).code);
    expect(denied).toBe(Code.PermissionDenied);
  });
});
