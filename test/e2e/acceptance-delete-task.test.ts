/**
 * delete_task with two schedulers in one cluster. Peers hash each task to one scheduler, while the job goes to
 * whichever scheduler of the cluster claims it: here only scheduler A claims jobs and the task lives in
 * scheduler B's memory, so A must make B forget it for the next download to go back to the origin.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Scheduler } from "../../src/gen/scheduler/v2/scheduler_pb.ts";
import { createGrpcClient } from "../../src/common/rpc.ts";
import { taskIdOf } from "../../src/scheduler/job/task-jobs.ts";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api, rootToken, runJob, spawnManager, type ManagerDaemon } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(240_000);
const MIB = 1024 * 1024;
/** URLs tried until one hashes to scheduler B; each lands there with probability 1/2. */
const MAX_TRIES = 24;
let manager: ManagerDaemon;
let token: string;
let schedulerA: SchedulerDaemon;
let schedulerB: SchedulerDaemon;
let seed: PeerDaemon;
let peers: PeerDaemon[];
let origin: Origin;
const transports: ReturnType<typeof createGrpcClient>[] = [];

function schedulerClient(address: string) {
  const transport = createGrpcClient(address, { timeoutMs: 10_000 });
  transports.push(transport);
  return createClient(Scheduler, transport);
}

/** Whether a scheduler holds the task in memory (StatTask answers NotFound when it does not). */
async function holds(address: string, taskId: string): Promise<boolean> {
  try {
    await schedulerClient(address).statTask({ taskId });
    return true;
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.NotFound) return false;
    throw error;
  }
}

async function dfget(peer: PeerDaemon, url: string): Promise<string> {
  const out = join(tempDir(), "out");
  const result = await runCli("dfget", [url, "-O", out, "-e", peer.socket, "--no-progress"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return await sha256File(out);
}

beforeAll(async () => {
  origin = startOrigin();
  manager = await spawnManager();
  token = await rootToken(manager.url);
  const common = ["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--job.claimInterval", "100ms"];
  schedulerA = await spawnScheduler([...common, "--server.host", "sched-a"]);
  schedulerB = await spawnScheduler([...common, "--server.host", "sched-b", "--job.enable", "false"]);
  await waitFor(() => /Registered with the manager/.test(schedulerA.output()) && /Registered with the manager/.test(schedulerB.output()), "both schedulers to register", 30_000);
  // Both are active in the manager's view, so A finds B when it lists its cluster.
  await waitFor(async () => {
    const answer = await api(manager.url, "GET", "/api/v1/schedulers?per_page=100", { token });
    const rows = (Array.isArray(answer.body) ? answer.body : answer.body.items) as { host_name: string; state: string }[];
    return rows.filter((r) => r.state === "active").map((r) => r.host_name).sort().join() === "sched-a,sched-b";
  }, "both schedulers to be active", 30_000);
  const addresses = [schedulerA.address, schedulerB.address];
  seed = await spawnPeer({ name: "dseed", seed: true, schedulers: addresses });
  peers = await Promise.all(["dpeer1", "dpeer2"].map((name) => spawnPeer({ name, schedulers: addresses })));
  // Every host announced itself to both schedulers: A's sync_peers lists all three.
  await waitFor(async () => {
    const job = await runJob(manager.url, token, { type: "sync_peers", scheduler_cluster_ids: [1] });
    return job.result?.job_states?.[0]?.results?.[0]?.hosts?.length === 3;
  }, "all hosts to announce", 60_000);
}, 240_000);

afterAll(async () => {
  for (const transport of transports) transport.close();
  await Promise.all([...(peers ?? []), seed].map((p) => p?.kill()));
  await Promise.all([schedulerA, schedulerB].map((s) => s?.kill()));
  await manager?.kill();
  await origin?.stop();
}, 60_000);

test("delete_task run by one scheduler makes the scheduler that holds the task forget it; the next download goes back to the origin", async () => {
  // A task that lives in B's memory and not in A's.
  let chosen: { path: string; url: string; taskId: string; sha256: string; size: number } | undefined;
  for (let i = 0; i < MAX_TRIES && !chosen; i++) {
    const path = `/delete/two-schedulers-${i}.bin`;
    const file = origin.add(path, randomFile(5 * MIB).data);
    const url = origin.url(path);
    expect(await dfget(peers[0]!, url)).toBe(file.sha256);
    const taskId = taskIdOf({ url });
    const [onA, onB] = [await holds(schedulerA.address, taskId), await holds(schedulerB.address, taskId)];
    expect(onA || onB).toBe(true);
    if (onB && !onA) chosen = { path, url, taskId, sha256: file.sha256, size: file.data.length };
  }
  if (!chosen) throw new Error(`None of ${MAX_TRIES} URLs hashed to scheduler B`);
  const served = origin.sent(chosen.path);
  expect(served).toBeGreaterThanOrEqual(chosen.size);

  const job = await runJob(manager.url, token, { type: "delete_task", args: { url: chosen.url }, scheduler_cluster_ids: [1] });
  expect(job.state).toBe("SUCCESS");
  const result = job.result.job_states[0].results[0];
  expect(result.task_id).toBe(chosen.taskId);
  expect(result.failure_tasks).toEqual([]);
  expect(result.success_tasks.map((t: { hostname: string }) => t.hostname).sort()).toEqual(["dpeer1", "dseed"]);

  // B, which never ran the job, no longer knows the task.
  expect(await holds(schedulerB.address, chosen.taskId)).toBe(false);
  expect(await holds(schedulerA.address, chosen.taskId)).toBe(false);

  // The next download starts afresh from the origin and is whole.
  expect(await dfget(peers[1]!, chosen.url)).toBe(chosen.sha256);
  expect(origin.sent(chosen.path)).toBeGreaterThanOrEqual(served + chosen.size);
  expect(await holds(schedulerB.address, chosen.taskId)).toBe(true);
});

test("delete_task of a task no scheduler knows succeeds with nothing to delete", async () => {
  const url = origin.url("/delete/never-downloaded.bin");
  const job = await runJob(manager.url, token, { type: "delete_task", args: { url }, scheduler_cluster_ids: [1] });
  expect(job.state).toBe("SUCCESS");
  const result = job.result.job_states[0].results[0];
  expect(result.task_id).toBe(taskIdOf({ url }));
  expect(result.success_tasks).toEqual([]);
  expect(result.failure_tasks).toEqual([]);
});
