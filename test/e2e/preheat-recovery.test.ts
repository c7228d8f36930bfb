/** Jobs outlive the processes that hold them: a manager restart, a scheduler killed mid-job, and no scheduler at all. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api, rootToken, spawnManager, waitJob, type ManagerDaemon } from "../helpers/manager.ts";
import { waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);
const SIZE = 8 * 1024 * 1024;
const data = randomBytes(SIZE);
let manager: ManagerDaemon;
let token: string;
const schedulers: SchedulerDaemon[] = [];
let seed: PeerDaemon | undefined;
/** Answers hold their body until released, so a job stays in flight as long as a test needs. */
let release: () => void = () => {};
let held = new Promise<void>((resolve) => (release = resolve));
let originRequests = 0;
const origin = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    originRequests++;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Number(range[2]) + 1 : SIZE;
    const body = data.subarray(start, end);
    const headers = { "content-length": String(body.length), ...(range ? { "content-range": `bytes ${start}-${end - 1}/${SIZE}` } : {}) };
    if (end - start <= 1) return new Response(body, { status: range ? 206 : 200, headers });
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await held;
        controller.enqueue(body);
        controller.close();
      },
    });
    return new Response(stream, { status: range ? 206 : 200, headers });
  },
});
const url = (path: string) => `http://127.0.0.1:${origin.port}${path}`;

function schedulerArgs(): string[] {
  return ["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--job.claimInterval", "100ms", "--job.lease", "2s", "--server.host", `sched-${schedulers.length}`];
}

beforeAll(async () => {
  manager = await spawnManager();
  token = await rootToken(manager.url);
}, 120_000);

afterAll(async () => {
  release();
  await seed?.kill();
  await Promise.all(schedulers.map((s) => s.kill()));
  await manager?.kill();
  await origin.stop(true);
}, 60_000);

test("a job created before a manager restart completes after it", async () => {
  release();
  const created = await api(manager.url, "POST", "/api/v1/jobs", { token, body: { type: "preheat", args: { type: "file", url: url("/restart.bin") }, scheduler_cluster_ids: [1] } });
  expect(created.status).toBe(200);
  await manager.kill();
  manager = await spawnManager({ dataDir: manager.dataDir, httpPort: manager.httpPort, grpcPort: manager.grpcPort });
  const listed = await api(manager.url, "GET", `/api/v1/jobs/${created.body.id}`, { token });
  expect(listed.status).toBe(200);
  expect(listed.body.state).toBe("PENDING");

  schedulers.push(await spawnScheduler(schedulerArgs()));
  schedulers.push(await spawnScheduler(schedulerArgs()));
  seed = await spawnPeer({ name: "rseed", seed: true, schedulers: schedulers.map((s) => s.address) });
  const job = await waitJob(manager.url, token, created.body.id, "/api/v1/jobs", 60_000);
  expect(job.state).toBe("SUCCESS");
  expect(job.result.job_states[0].results[0].success_tasks).toEqual([{ url: url("/restart.bin"), hostname: "rseed", ip: "127.0.0.1" }]);
});

test("a job whose scheduler dies mid-job is taken over by another scheduler of the cluster", async () => {
  held = new Promise<void>((resolve) => (release = resolve));
  const before = originRequests;
  const created = await api(manager.url, "POST", "/api/v1/jobs", { token, body: { type: "preheat", args: { type: "file", url: url("/takeover.bin") }, scheduler_cluster_ids: [1] } });
  expect(created.status).toBe(200);
  // The seed is fetching from the origin on behalf of whichever scheduler claimed the job.
  await waitFor(() => originRequests > before, "the seed to reach the origin");
  const owner = await waitFor(() => schedulers.find((s) => s.output().includes(`"jobId":${created.body.id}`)), "the claiming scheduler");
  await owner.kill("SIGKILL");
  const survivor = schedulers.find((s) => s !== owner)!;
  release();
  const job = await waitJob(manager.url, token, created.body.id, "/api/v1/jobs", 60_000);
  expect(job.state).toBe("SUCCESS");
  expect(survivor.output()).toContain(`"jobId":${created.body.id}`);
  expect(job.result.job_states[0].results[0].success_tasks).toEqual([{ url: url("/takeover.bin"), hostname: "rseed", ip: "127.0.0.1" }]);
});

test("a job no scheduler can run fails with a clear error by its timeout", async () => {
  await Promise.all(schedulers.map((s) => s.kill("SIGKILL")));
  const created = await api(manager.url, "POST", "/api/v1/jobs", {
    token,
    body: { type: "preheat", args: { type: "file", url: url("/orphan.bin"), timeout: 2_000_000_000 }, scheduler_cluster_ids: [1] },
  });
  expect(created.status).toBe(200);
  const job = await waitJob(manager.url, token, created.body.id, "/api/v1/jobs", 60_000);
  expect(job.state).toBe("FAILURE");
  expect(job.result.job_states[0].error).toBe("Job timed out: no scheduler of the cluster finished it in time");
});
