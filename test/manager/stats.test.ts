/**
 * The dashboard's data from real processes: a manager, a scheduler reporting every second, a seed peer and two
 * peers. After downloads, the manager's traffic series, cluster stats, task graph and seed peer list agree with
 * what the daemons' own metrics say happened.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api, rootToken, spawnManager, type ManagerDaemon } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { metric, runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);
const MIB = 1024 * 1024;
let manager: ManagerDaemon;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let peers: PeerDaemon[] = [];
let origin: Origin;
let token: string;

beforeAll(async () => {
  origin = startOrigin();
  manager = await spawnManager();
  token = await rootToken(manager.url);
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--manager.statsInterval", "1s"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seed = await spawnPeer({ name: "stats-seed", seed: true, extra: ["--manager.addr", manager.grpc] });
  peers = [
    await spawnPeer({ name: "stats-peer-1", extra: ["--manager.addr", manager.grpc] }),
    await spawnPeer({ name: "stats-peer-2", extra: ["--manager.addr", manager.grpc] }),
  ];
}, 180_000);

afterAll(async () => {
  await Promise.all([...peers.map((p) => p.kill()), seed?.kill()]);
  await scheduler?.kill();
  await manager?.kill();
  await origin?.stop();
}, 60_000);

const get = async (path: string) => {
  const answer = await api(manager.url, "GET", path, { token });
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
};

test("the seed peer the scheduler knows is listed by the manager as active, with its version", async () => {
  const listed = await waitFor(async () => {
    const rows = (await get("/api/v1/seed-peers?seed_peer_cluster_id=1")) as { host_name: string; state: string; port: number }[];
    return rows.find((r) => r.host_name === "stats-seed" && r.state === "active");
  }, "the seed peer in /api/v1/seed-peers", 60_000);
  expect(listed).toMatchObject({ ip: "127.0.0.1", type: "super", git_version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  expect(listed.port).toBeGreaterThan(0);
  const schedulers = await waitFor(async () => {
    const rows = (await get("/api/v1/schedulers?scheduler_cluster_id=1")) as { git_version: string; state: string }[];
    return rows.find((r) => r.git_version !== "" && r.state === "active");
  }, "the scheduler's version", 30_000);
  expect(schedulers.git_version).toMatch(/^\d+\.\d+\.\d+/);
});

test("after P2P downloads the traffic series, the hit ratio, the cluster stats and the task graph match the daemons' metrics", async () => {
  const before = (await get("/api/v1/traffic?scheduler_cluster_id=1&step=60")) as { totals: Record<string, number> };
  const file = origin.add("/stats.bin", randomFile(24 * MIB).data);
  for (const [i, peer] of peers.entries()) {
    const out = join(tempDir(), `out-${i}`);
    const result = await runCli("dfget", [origin.url("/stats.bin"), "-O", out, "-e", peer.socket]);
    expect(result.code).toBe(0);
    expect(await sha256File(out)).toBe(file.sha256);
  }
  const fromSource = await metric(seed.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" });
  const fromPeers =
    (await metric(peers[0]!.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" })) +
    (await metric(peers[1]!.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" }));
  expect(fromSource).toBe(file.data.length);
  expect(fromPeers).toBe(2 * file.data.length);

  // The scheduler reports every second; wait until the manager holds every byte the daemons counted.
  const traffic = await waitFor(async () => {
    const t = (await get("/api/v1/traffic?scheduler_cluster_id=1&step=60")) as {
      totals: { back_to_source_bytes: number; peer_bytes: number; local_bytes: number };
      hit_ratio: number | null;
      series: { time: string; back_to_source_bytes: number; peer_bytes: number }[];
    };
    const source = t.totals.back_to_source_bytes - before.totals.back_to_source_bytes!;
    const peer = t.totals.peer_bytes - before.totals.peer_bytes!;
    return source >= fromSource && peer >= fromPeers ? t : undefined;
  }, "the reported traffic", 60_000);
  expect(traffic.totals.back_to_source_bytes - before.totals.back_to_source_bytes!).toBe(fromSource);
  expect(traffic.totals.peer_bytes - before.totals.peer_bytes!).toBe(fromPeers);
  expect(traffic.hit_ratio).toBeGreaterThan(0.5);
  expect(traffic.series.some((p) => p.peer_bytes > 0)).toBe(true);

  const stats = (await get("/api/v1/cluster-stats")) as { scheduler_cluster_id: number; schedulers: number; seed_peers: number; active_tasks: number; active_peers: number }[];
  const cluster = stats.find((s) => s.scheduler_cluster_id === 1)!;
  expect(cluster).toMatchObject({ schedulers: 1, seed_peers: 1 });
  expect(cluster.active_tasks).toBeGreaterThanOrEqual(1);
  expect(cluster.active_peers).toBeGreaterThanOrEqual(3);

  const taskId = /"taskId":"([0-9a-f]{64})"/.exec(peers[0]!.output())?.[1];
  expect(taskId).toBeDefined();
  const graph = (await get(`/api/v1/tasks/${taskId}/graph?scheduler_cluster_id=1`)) as {
    peers: { id: string; hostname: string; host_type: string; received_bytes: number }[];
    edges: { parent: string; child: string; bytes: number; pieces: number }[];
  };
  const name = (id: string) => graph.peers.find((p) => p.id === id)?.hostname;
  const edges = graph.edges.map((e) => ({ from: name(e.parent), to: name(e.child), bytes: e.bytes }));
  expect(edges).toContainEqual({ from: "origin", to: "stats-seed", bytes: file.data.length });
  const toPeers = edges.filter((e) => e.to === "stats-peer-1" || e.to === "stats-peer-2");
  expect(toPeers.reduce((t, e) => t + e.bytes, 0)).toBe(2 * file.data.length);
  expect(toPeers.every((e) => e.from === "stats-seed" || e.from === "stats-peer-1" || e.from === "stats-peer-2")).toBe(true);
  expect(graph.peers.find((p) => p.hostname === "stats-seed")?.host_type).toBe("super");
});

test("a download served from a peer's own storage is reported as local traffic", async () => {
  const file = origin.add("/stats-local.bin", randomFile(9 * MIB).data);
  const peer = peers[0]!;
  const first = await runCli("dfget", [origin.url("/stats-local.bin"), "-O", join(tempDir(), "first"), "-e", peer.socket]);
  expect(first.code).toBe(0);
  const before = (await get("/api/v1/traffic?scheduler_cluster_id=1&step=60")) as { totals: { local_bytes: number } };
  const localBefore = await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "local_peer" });

  const out = join(tempDir(), "again");
  const again = await runCli("dfget", [origin.url("/stats-local.bin"), "-O", out, "-e", peer.socket]);
  expect(again.code).toBe(0);
  expect(await sha256File(out)).toBe(file.sha256);
  const served = (await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "local_peer" })) - localBefore;
  expect(served).toBe(file.data.length);

  const traffic = await waitFor(async () => {
    const t = (await get("/api/v1/traffic?scheduler_cluster_id=1&step=60")) as { totals: { local_bytes: number } };
    return t.totals.local_bytes - before.totals.local_bytes >= served ? t : undefined;
  }, "the local bytes reported to the manager", 60_000);
  expect(traffic.totals.local_bytes - before.totals.local_bytes).toBe(served);
});
