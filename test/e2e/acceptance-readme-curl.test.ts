/**
 * The README's "Preheat with curl" commands, run as written with curl against a real cluster: only the
 * manager's address, the origin and the registry placeholders are replaced. Then the rest of the job API
 * that the README does not show (PATCH and DELETE), and a preheat of a URL nothing listens at.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api, personalAccessToken, rootToken, spawnManager, waitJob, type ManagerDaemon } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, ROOT, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);
const MIB = 1024 * 1024;
let manager: ManagerDaemon;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let origin: Origin;
let session: string;
let pat: string;

/** The curl commands of the README's "Preheat with curl" section, continuation lines joined, comments dropped. */
function readmeCurlCommands(readme: string): string[] {
  const start = readme.indexOf("### Preheat with curl");
  if (start < 0) throw new Error('README has no "### Preheat with curl" section');
  const open = readme.indexOf("```sh\n", start);
  const close = readme.indexOf("\n```", open + 1);
  if (open < 0 || close < 0) throw new Error('"Preheat with curl" has no sh block');
  const joined = readme.slice(open + "```sh\n".length, close).replace(/\\\n\s*/g, "");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("curl "));
}

/** Runs one command under bash with PAT in its environment; answers stdout and the exit code. */
function sh(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", command], { env: { ...process.env, PAT: pat }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  origin = startOrigin();
  manager = await spawnManager();
  session = await rootToken(manager.url);
  pat = await personalAccessToken(manager.url, session, ["job"]);
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--job.claimInterval", "100ms"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seed = await spawnPeer({ name: "cseed", seed: true, schedulers: [scheduler.address] });
  await waitFor(async () => {
    const peers = await api(manager.url, "GET", "/api/v1/schedulers?per_page=100", { token: session });
    return peers.status === 200 && (Array.isArray(peers.body) ? peers.body : peers.body.items).some((s: { state: string }) => s.state === "active");
  }, "an active scheduler", 30_000);
}, 180_000);

afterAll(async () => {
  await seed?.kill();
  await scheduler?.kill();
  await manager?.kill();
  await origin?.stop();
}, 60_000);

test("every curl command of the README's preheat section runs as written and its job ends as it should", async () => {
  const commands = readmeCurlCommands(readFileSync(join(ROOT, "README.md"), "utf8"));
  // Preheat a file, read job 1, preheat an image, get_task, delete_task, sync_peers.
  expect(commands).toHaveLength(6);
  const file = origin.add("/file.bin", randomFile(3 * MIB).data);
  const localize = (command: string) =>
    command
      .replaceAll("http://127.0.0.1:8080", manager.url)
      .replaceAll("http://origin/", origin.url("/"))
      // The registry placeholder becomes a server without that image, so the image preheat must fail clearly.
      .replaceAll("https://registry/", origin.url("/"));
  const outcomes: { command: string; job: any }[] = [];
  for (const command of commands.map(localize)) {
    const result = await sh(command);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.id).toBeGreaterThan(0);
    if (!/-X POST/.test(command)) {
      // The README reads job 1, the file preheat it created first.
      expect(answer.id).toBe(1);
      expect(answer.type).toBe("preheat");
      continue;
    }
    expect(answer.state).toBe("PENDING");
    outcomes.push({ command, job: await waitJob(manager.url, pat, answer.id, "/oapi/v1/jobs", 90_000) });
  }
  const [preheatFile, preheatImage, getTask, deleteTask, syncPeers] = outcomes.map((o) => o.job);
  expect(preheatFile.state).toBe("SUCCESS");
  expect(preheatFile.result.job_states[0].results[0].success_tasks).toEqual([{ url: origin.url("/file.bin"), hostname: "cseed", ip: "127.0.0.1" }]);
  expect(origin.sent("/file.bin")).toBeGreaterThanOrEqual(file.data.length);

  expect(preheatImage.state).toBe("FAILURE");
  expect(JSON.stringify(preheatImage.result)).toContain("404");

  expect(getTask.state).toBe("SUCCESS");
  expect(getTask.result.job_states[0].results[0].peers.map((p: { hostname: string }) => p.hostname)).toEqual(["cseed"]);

  expect(deleteTask.state).toBe("SUCCESS");
  expect(deleteTask.result.job_states[0].results[0].success_tasks.map((t: { hostname: string }) => t.hostname)).toEqual(["cseed"]);

  expect(syncPeers.state).toBe("SUCCESS");
  expect(syncPeers.result.job_states[0].results[0].hosts.map((h: { hostname: string }) => h.hostname)).toEqual(["cseed"]);
});

test("a job's bio is changed with PATCH and the job removed with DELETE", async () => {
  const created = await api(manager.url, "POST", "/api/v1/jobs", { token: session, body: { type: "sync_peers", bio: "before", scheduler_cluster_ids: [1] } });
  expect(created.status).toBe(200);
  const id = created.body.id as number;
  const patched = await api(manager.url, "PATCH", `/api/v1/jobs/${id}`, { token: session, body: { bio: "after" } });
  expect(patched.status).toBe(200);
  expect(patched.body.bio).toBe("after");
  expect((await api(manager.url, "GET", `/api/v1/jobs/${id}`, { token: session })).body.bio).toBe("after");
  const badPatch = await api(manager.url, "PATCH", `/api/v1/jobs/${id}`, { token: session, body: { bio: 42 } });
  expect(badPatch.status).toBe(422);
  expect(JSON.stringify(badPatch.body)).toContain("bio");

  // A token without the job scope cannot touch it.
  const other = await personalAccessToken(manager.url, session, ["cluster"]);
  expect((await api(manager.url, "PATCH", `/oapi/v1/jobs/${id}`, { token: other, body: { bio: "x" } })).status).toBe(403);

  const removed = await api(manager.url, "DELETE", `/api/v1/jobs/${id}`, { token: session });
  expect(removed.status).toBe(200);
  expect((await api(manager.url, "GET", `/api/v1/jobs/${id}`, { token: session })).status).toBe(404);
  expect((await api(manager.url, "DELETE", `/api/v1/jobs/${id}`, { token: session })).status).toBe(404);
});

test("a preheat of a URL where nothing listens fails with the connection error in the job's result", async () => {
  const url = `http://127.0.0.1:${await freePort()}/nothing-here.bin`;
  const created = await api(manager.url, "POST", "/oapi/v1/jobs", { token: pat, body: { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [1] } });
  expect(created.status).toBe(200);
  const job = await waitJob(manager.url, pat, created.body.id, "/oapi/v1/jobs", 90_000);
  expect(job.state).toBe("FAILURE");
  const state = job.result.job_states[0];
  expect(state.state).toBe("FAILURE");
  expect(state.error).not.toBe("");
  const failure = state.results[0].failure_tasks[0];
  expect(failure).toMatchObject({ url, hostname: "cseed", ip: "127.0.0.1" });
  expect(failure.description).toMatch(/connect|refused|unable/i);
  expect(state.results[0].success_tasks).toEqual([]);
});
