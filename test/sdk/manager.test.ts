/**
 * The SDK's manager client against a real manager (PGlite), a scheduler registered with it and a seed peer:
 * sign-in, clusters, personal access tokens, a preheat job waited for to SUCCESS, typed requests and errors.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createDfdaemonClient } from "../../sdk/src/dfdaemon/index.ts";
import { createManagerClient, SdkError, type Job, type JobProgress, type ManagerClient } from "../../sdk/src/manager/index.ts";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { ROOT_PASSWORD, spawnManager, type ManagerDaemon } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, waitFor } from "../helpers/processes.ts";
import { runExample } from "./examples.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(180_000);
let manager: ManagerDaemon;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let origin: Origin;
let client: ManagerClient;

beforeAll(async () => {
  origin = startOrigin();
  manager = await spawnManager();
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--job.claimInterval", "100ms"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seed = await spawnPeer({ name: "sdk-seed", seed: true, schedulers: [scheduler.address] });
  client = createManagerClient({ baseUrl: manager.url });
}, 180_000);

afterAll(async () => {
  await seed?.kill();
  await scheduler?.kill();
  await manager?.kill();
  await origin?.stop();
}, 60_000);

describe("the SDK's manager client", () => {
  test("signin with a wrong password is unauthenticated; with the right one later calls are authorized", async () => {
    const before = await client.jobs.list().catch((error: unknown) => error);
    expect(before).toMatchObject({ code: "unauthenticated", status: 401 });
    const wrong = await client.signin("root", "not-the-password").catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(SdkError);
    expect(wrong).toMatchObject({ code: "unauthenticated", status: 401 });
    expect((wrong as SdkError).message).toStartWith("POST /api/v1/users/signin failed with 401: ");
    const session = await client.signin("root", ROOT_PASSWORD);
    expect(session.token.length).toBeGreaterThan(20);
    expect(Array.isArray(await client.jobs.list())).toBe(true);
  });

  test("clusters: create, get, list, update, a duplicate refused, delete", async () => {
    const created = await client.clusters.create({ name: "sdk-cluster", bio: "made by the SDK test" });
    expect(created).toMatchObject({ name: "sdk-cluster", bio: "made by the SDK test" });
    expect((await client.clusters.get(created.id)).name).toBe("sdk-cluster");
    expect((await client.clusters.list({ per_page: 100 })).map((c) => c.id)).toContain(created.id);
    expect((await client.clusters.update(created.id, { bio: "changed" })).bio).toBe("changed");
    const duplicate = await client.clusters.create({ name: "sdk-cluster" }).catch((error: unknown) => error);
    expect(duplicate).toBeInstanceOf(SdkError);
    expect((duplicate as SdkError).status).toBe(409);
    expect((duplicate as SdkError).code).toBe("conflict");
    await client.clusters.delete(created.id);
    const gone = await client.clusters.get(created.id).catch((error: unknown) => error);
    expect(gone).toMatchObject({ code: "not_found", status: 404 });
  });

  test("a personal access token drives a preheat through /oapi, waited for to SUCCESS with progress", async () => {
    const pat = await client.personalAccessTokens.create("sdk-pat", { scopes: ["job", "cluster"] });
    expect(pat.token).toStartWith("lbl_");
    const listed = await client.personalAccessTokens.list();
    expect(listed.map((t) => t.id)).toContain(pat.id);
    expect(JSON.stringify(listed)).not.toContain(pat.token);

    const harbor = createManagerClient({ baseUrl: manager.url, personalAccessToken: pat.token });
    const file = origin.add("/sdk/preheat.bin", randomFile(6 * MIB).data);
    const url = origin.url("/sdk/preheat.bin");
    const job = await harbor.jobs.createPreheat({ type: "file", url }, { schedulerClusterIds: [1], bio: "sdk preheat" });
    expect(job).toMatchObject({ type: "preheat", state: "PENDING", bio: "sdk preheat" });
    const progress: JobProgress[] = [];
    const done = await harbor.jobs.waitForJob(job.id, { intervalMs: 100, timeoutMs: 90_000, onProgress: (p) => progress.push(p) });
    expect(done.state).toBe("SUCCESS");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.map((p) => p.polls)).toEqual(progress.map((_, i) => i + 1));
    expect(progress.at(-1)!.job.state).toBe("SUCCESS");
    expect(origin.sent("/sdk/preheat.bin")).toBeGreaterThanOrEqual(file.data.length);
    // The seed holds the task now.
    using dfdaemon = createDfdaemonClient({ socketPath: seed.socket });
    expect((await dfdaemon.stat(url)).contentLength).toBe(file.data.length);

    expect((await harbor.jobs.list({ type: "preheat" })).map((j: Job) => j.id)).toContain(job.id);
    // A token is refused where sessions belong, and the session is refused on /oapi.
    const tokenOnApi = await harbor.request("get", "/api/v1/users").catch((error: unknown) => error);
    expect(tokenOnApi).toBeInstanceOf(SdkError);
    await client.personalAccessTokens.delete(pat.id);
    expect(await harbor.jobs.get(job.id).catch((error: unknown) => (error as SdkError).code)).toBe("unauthenticated");
  });

  test("waitForJob gives up after its timeout and stops on its signal", async () => {
    // A cluster without schedulers: nobody claims its jobs.
    const idle = await client.clusters.create({ name: "sdk-idle" });
    const job = await client.jobs.createPreheat({ type: "file", url: origin.url("/never.bin") }, { schedulerClusterIds: [idle.scheduler_cluster_id] });
    const late = await client.jobs.waitForJob(job.id, { intervalMs: 50, timeoutMs: 300 }).catch((error: unknown) => error);
    expect(late).toMatchObject({ code: "deadline_exceeded" });
    expect((late as SdkError).message).toContain(`Job ${job.id} is still PENDING`);
    const controller = new AbortController();
    const stopped = client.jobs.waitForJob(job.id, { intervalMs: 10_000, signal: controller.signal, onProgress: () => controller.abort() }).catch((error: unknown) => error);
    expect(await stopped).toMatchObject({ code: "canceled" });
  });

  test("request() is typed by openapi.yaml and builds paths and queries", async () => {
    const schedulers = await client.request("get", "/api/v1/schedulers", { query: { scheduler_cluster_id: 1 } });
    expect(schedulers.map((s) => s.scheduler_cluster_id)).toContain(1);
    const jobs = await client.request("get", "/api/v1/jobs", { query: { state: "SUCCESS", per_page: 50 } });
    expect(jobs.every((j) => j.state === "SUCCESS")).toBe(true);
    const first = jobs[0];
    if (first) expect((await client.request("get", "/api/v1/jobs/{id}", { path: { id: first.id } })).id).toBe(first.id);
    // @ts-expect-error: the path parameter is required by the operation's type.
    const missing = await client.request("get", "/api/v1/jobs/{id}").catch((error: unknown) => error);
    expect(missing).toMatchObject({ code: "invalid_argument" });
    const invalid = await client.request("post", "/api/v1/jobs", { body: { type: "preheat", args: { type: "image", url: "not-a-manifest" } } }).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(SdkError);
    expect([400, 422]).toContain((invalid as SdkError).status!);
  });

  test("an unreachable manager and a bad base URL are clear errors", async () => {
    const port = await freePort();
    const dead = createManagerClient({ baseUrl: `http://127.0.0.1:${port}` });
    const unreachable = await dead.jobs.list().catch((error: unknown) => error);
    expect(unreachable).toMatchObject({ code: "unavailable" });
    expect((unreachable as SdkError).message).toStartWith(`Cannot reach the manager at "http://127.0.0.1:${port}": `);
    expect(() => createManagerClient({ baseUrl: "no url" })).toThrow('Invalid option "baseUrl" "no url": not a URL');
  });

  test("the preheat example signs in, preheats and prints the job's result", async () => {
    const file = origin.add("/sdk/example.bin", randomFile(3 * MIB).data);
    const url = origin.url("/sdk/example.bin");
    const result = await runExample("preheat.ts", [manager.url, url, "1"], { LIBELLULA_USER: "root", LIBELLULA_PASSWORD: ROOT_PASSWORD });
    expect(result.stderr).toContain("SUCCESS");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"success_tasks"');
    expect(origin.sent("/sdk/example.bin")).toBeGreaterThanOrEqual(file.data.length);
    const refused = await runExample("preheat.ts", [manager.url, url], { LIBELLULA_TOKEN: "lbl_not-a-token" });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("unauthenticated: POST /oapi/v1/jobs failed with 401");
  });
});
