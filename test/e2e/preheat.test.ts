/** File preheat and task management through manager, scheduler and peers, all real processes. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { Scheduler } from "../../src/gen/scheduler/v2/scheduler_pb.ts";
import { createGrpcClient } from "../../src/common/rpc.ts";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api, rootToken, runJob, spawnManager, type ManagerDaemon } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);
const MIB = 1024 * 1024;
/** Each downloader may probe the origin for the content length with a one-byte range request. */
const PROBE_BYTES = 1;
let manager: ManagerDaemon;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let peers: PeerDaemon[];
let origin: Origin;
let token: string;

beforeAll(async () => {
  origin = startOrigin();
  manager = await spawnManager();
  token = await rootToken(manager.url);
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--job.claimInterval", "100ms"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seed = await spawnPeer({ name: "pseed", seed: true, schedulers: [scheduler.address] });
  peers = await Promise.all(["ppeer1", "ppeer2", "ppeer3"].map((name) => spawnPeer({ name, schedulers: [scheduler.address] })));
  // Every host has announced itself: sync_peers lists all four.
  await waitFor(async () => {
    const job = await runJob(manager.url, token, { type: "sync_peers", scheduler_cluster_ids: [1] });
    return job.result?.job_states?.[0]?.results?.[0]?.hosts?.length === 4;
  }, "all hosts to announce", 30_000);
}, 180_000);

afterAll(async () => {
  await Promise.all([...(peers ?? []), seed].map((p) => p?.kill()));
  await scheduler?.kill();
  await manager?.kill();
  await origin?.stop();
}, 60_000);

async function dfget(peer: PeerDaemon, url: string): Promise<string> {
  const out = join(tempDir(), "out");
  const result = await runCli("dfget", [url, "-O", out, "-e", peer.socket]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return await sha256File(out);
}

async function holders(url: string): Promise<string[]> {
  const job = await runJob(manager.url, token, { type: "get_task", args: { url }, scheduler_cluster_ids: [1] });
  expect(job.state).toBe("SUCCESS");
  return (job.result.job_states[0].results[0].peers as { hostname: string; is_finished: boolean }[])
    .filter((p) => p.is_finished)
    .map((p) => p.hostname)
    .sort();
}

test("a file preheat warms the seed: SUCCESS with results, and a later dfget never reaches the origin", async () => {
  const file = origin.add("/preheat/file.bin", randomFile(10 * MIB).data);
  const url = origin.url("/preheat/file.bin");
  const created = await api(manager.url, "POST", "/api/v1/jobs", { token, body: { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [1] } });
  expect(created.status).toBe(200);
  expect(created.body.state).toBe("PENDING");
  const job = await runJob(manager.url, token, { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [1] });
  expect(job.state).toBe("SUCCESS");
  const state = job.result.job_states[0];
  expect(state.state).toBe("SUCCESS");
  expect(state.error).toBe("");
  expect(state.results[0]).toEqual({ success_tasks: [{ url, hostname: "pseed", ip: "127.0.0.1" }], failure_tasks: [], scheduler_cluster_id: 1 });
  expect(job.args.scope).toBe("single_seed_peer");
  const served = origin.sent("/preheat/file.bin");
  expect(served).toBeGreaterThanOrEqual(file.data.length);
  expect(served).toBeLessThanOrEqual(file.data.length + PROBE_BYTES);
  expect(await holders(url)).toEqual(["pseed"]);

  expect(await dfget(peers[0]!, url)).toBe(file.sha256);
  expect(origin.sent("/preheat/file.bin")).toBeLessThanOrEqual(served + PROBE_BYTES);
});

test("all_peers with count, percentage and ips picks that many normal peers", async () => {
  const byCount = origin.add("/preheat/count.bin", randomFile(5 * MIB).data);
  const countUrl = origin.url("/preheat/count.bin");
  const counted = await runJob(manager.url, token, { type: "preheat", args: { type: "file", url: countUrl, scope: "all_peers", count: 2 }, scheduler_cluster_ids: [1] });
  expect(counted.state).toBe("SUCCESS");
  expect(counted.result.job_states[0].results[0].success_tasks).toHaveLength(2);
  const countHolders = await holders(countUrl);
  // Two normal peers, plus the seed they fetched it through; the origin served it once.
  expect(countHolders.filter((h) => h.startsWith("ppeer"))).toHaveLength(2);
  expect(origin.sent("/preheat/count.bin")).toBeLessThanOrEqual(byCount.data.length + 3 * PROBE_BYTES);

  origin.add("/preheat/percent.bin", randomFile(5 * MIB).data);
  const percentUrl = origin.url("/preheat/percent.bin");
  const percent = await runJob(manager.url, token, { type: "preheat", args: { type: "file", url: percentUrl, scope: "all_peers", percentage: 34 }, scheduler_cluster_ids: [1] });
  expect(percent.state).toBe("SUCCESS");
  // ⌊3 × 34 / 100⌋ = 1 peer.
  expect(percent.result.job_states[0].results[0].success_tasks).toHaveLength(1);
  expect((await holders(percentUrl)).filter((h) => h.startsWith("ppeer"))).toHaveLength(1);

  origin.add("/preheat/ips.bin", randomFile(5 * MIB).data);
  const ipsUrl = origin.url("/preheat/ips.bin");
  const byIp = await runJob(manager.url, token, { type: "preheat", args: { type: "file", url: ipsUrl, scope: "all_peers", ips: ["127.0.0.1"] }, scheduler_cluster_ids: [1] });
  expect(byIp.state).toBe("SUCCESS");
  expect(byIp.result.job_states[0].results[0].success_tasks.map((t: { hostname: string }) => t.hostname).sort()).toEqual(["ppeer1", "ppeer2", "ppeer3"]);
  const none = await runJob(manager.url, token, { type: "preheat", args: { type: "file", url: ipsUrl, scope: "all_peers", ips: ["10.255.0.1"] }, scheduler_cluster_ids: [1] });
  expect(none.state).toBe("FAILURE");
  expect(none.result.job_states[0].error).toContain("No peer matches the selection");
});

test("all_seed_peers preheats on every seed; tag and application make a distinct task", async () => {
  origin.add("/preheat/seeds.bin", randomFile(2 * MIB).data);
  const url = origin.url("/preheat/seeds.bin");
  const job = await runJob(manager.url, token, { type: "preheat", args: { type: "file", urls: [url], scope: "all_seed_peers", tag: "t1", application: "app" }, scheduler_cluster_ids: [1] });
  expect(job.state).toBe("SUCCESS");
  expect(job.result.job_states[0].results[0].success_tasks).toEqual([{ url, hostname: "pseed", ip: "127.0.0.1" }]);
  const tagged = await runJob(manager.url, token, { type: "get_task", args: { url, tag: "t1", application: "app" }, scheduler_cluster_ids: [1] });
  expect(tagged.result.job_states[0].results[0].peers.map((p: { hostname: string }) => p.hostname)).toEqual(["pseed"]);
  expect(await holders(url)).toEqual([]);
});

test("piece length, headers and filtered query params reach the seed and shape the task ID", async () => {
  const file = origin.add("/preheat/signed.bin", randomFile(9 * MIB).data);
  const signed = `${origin.url("/preheat/signed.bin")}?sig=abc&keep=1`;
  const job = await runJob(manager.url, token, {
    type: "preheat",
    args: { type: "file", url: signed, piece_length: 4 * MIB, headers: { "X-Preheat": "yes" }, filtered_query_params: "sig" },
    scheduler_cluster_ids: [1],
  });
  expect(job.state).toBe("SUCCESS");
  expect(origin.headers("/preheat/signed.bin").some((h) => h.get("x-preheat") === "yes")).toBe(true);
  // Another signature is the same task once "sig" is filtered out, and the piece length is part of the ID.
  const same = `${origin.url("/preheat/signed.bin")}?sig=other&keep=1`;
  const found = await runJob(manager.url, token, { type: "get_task", args: { url: same, piece_length: 4 * MIB, filtered_query_params: "sig" }, scheduler_cluster_ids: [1] });
  const peersFound = found.result.job_states[0].results[0].peers as { hostname: string; content_length: number }[];
  expect(peersFound.map((p) => p.hostname)).toEqual(["pseed"]);
  expect(peersFound[0]!.content_length).toBe(file.data.length);
  const otherLength = await runJob(manager.url, token, { type: "get_task", args: { url: same, filtered_query_params: "sig" }, scheduler_cluster_ids: [1] });
  expect(otherLength.result.job_states[0].results[0].peers).toEqual([]);
});

test("a failing URL fails the job with the origin's error in the results", async () => {
  origin.fail("/preheat/broken.bin", 500);
  const url = origin.url("/preheat/broken.bin");
  const job = await runJob(manager.url, token, { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [1] });
  expect(job.state).toBe("FAILURE");
  const state = job.result.job_states[0];
  expect(state.state).toBe("FAILURE");
  expect(state.error).toContain("All peers preheat failed");
  expect(state.results[0].success_tasks).toEqual([]);
  expect(state.results[0].failure_tasks).toHaveLength(1);
  expect(state.results[0].failure_tasks[0]).toMatchObject({ url, hostname: "pseed", ip: "127.0.0.1" });
  expect(state.results[0].failure_tasks[0].description).toContain("500");
});

test("delete_task clears the task everywhere: the next download goes back to the origin", async () => {
  const file = origin.add("/preheat/delete.bin", randomFile(6 * MIB).data);
  const url = origin.url("/preheat/delete.bin");
  expect((await runJob(manager.url, token, { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [1] })).state).toBe("SUCCESS");
  expect(await dfget(peers[1]!, url)).toBe(file.sha256);
  expect(await holders(url)).toEqual(["ppeer2", "pseed"]);
  const served = origin.sent("/preheat/delete.bin");
  expect(served).toBeLessThanOrEqual(file.data.length + 2 * PROBE_BYTES);

  const deleted = await runJob(manager.url, token, { type: "delete_task", args: { url }, scheduler_cluster_ids: [1] });
  expect(deleted.state).toBe("SUCCESS");
  expect(deleted.result.job_states[0].results[0].success_tasks.map((t: { hostname: string }) => t.hostname).sort()).toEqual(["ppeer2", "pseed"]);
  expect(await holders(url)).toEqual([]);

  expect(await dfget(peers[2]!, url)).toBe(file.sha256);
  expect(origin.sent("/preheat/delete.bin")).toBeGreaterThanOrEqual(served + file.data.length);
});

test("get_task and delete_task need a task ID, URL or content", async () => {
  const bad = await api(manager.url, "POST", "/api/v1/jobs", { token, body: { type: "get_task", args: {}, scheduler_cluster_ids: [1] } });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain("task_id");
});

test("sync_peers lists every host the scheduler knows", async () => {
  const job = await runJob(manager.url, token, { type: "sync_peers", scheduler_cluster_ids: [1] });
  expect(job.state).toBe("SUCCESS");
  const hosts = job.result.job_states[0].results[0].hosts as { hostname: string; type: string; ip: string }[];
  expect(hosts.map((h) => `${h.hostname}:${h.type}`).sort()).toEqual(["ppeer1:normal", "ppeer2:normal", "ppeer3:normal", "pseed:super"]);
  // The manager's peer inventory now holds exactly these hosts.
  const listed = await api(manager.url, "GET", "/api/v1/peers?per_page=100", { token });
  expect(listed.status).toBe(200);
  const rows = (Array.isArray(listed.body) ? listed.body : listed.body.items) as { host_name: string; type: string; state: string; scheduler_cluster_id: number }[];
  expect(rows.map((p) => `${p.host_name}:${p.type}:${p.state}:${p.scheduler_cluster_id}`).sort()).toEqual([
    "ppeer1:normal:active:1",
    "ppeer2:normal:active:1",
    "ppeer3:normal:active:1",
    "pseed:super:active:1",
  ]);
});

test("the scheduler's PreheatFile RPC preheats on the seed and fails with the origin's error", async () => {
  const file = origin.add("/preheat/rpc.bin", randomFile(3 * MIB).data);
  const url = origin.url("/preheat/rpc.bin");
  const transport = createGrpcClient(scheduler.address);
  try {
    const client = createClient(Scheduler, transport);
    await client.preheatFile({ urls: [url], scope: "single_seed_peer" });
    expect(origin.sent("/preheat/rpc.bin")).toBeGreaterThanOrEqual(file.data.length);
    expect(await holders(url)).toEqual(["pseed"]);
    origin.fail("/preheat/rpc-missing.bin", 404);
    const failed = await client.preheatFile({ urls: [origin.url("/preheat/rpc-missing.bin")] }).then(() => undefined, (error: Error) => error);
    expect(failed?.message).toContain("All peers preheat failed");
  } finally {
    transport.close();
  }
});
