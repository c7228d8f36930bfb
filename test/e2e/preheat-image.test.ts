/**
 * Image preheat from a real docker-registry with token auth, driven by exactly the HTTP calls Harbor's
 * Dragonfly provider makes: health check, create with a personal access token, polling, re-create.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api, personalAccessToken, rootToken, runJob, spawnManager, type ManagerDaemon } from "../helpers/manager.ts";
import { runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";
import { buildImage, skopeo, startRegistry, type Account, type Registry, type TestImage } from "../helpers/registry.ts";

setDefaultTimeout(180_000);
const MIB = 1024 * 1024;
const LAYER_SIZES = [6 * MIB, 5 * MIB];
/** Each back-to-source download may probe the blob with a one-byte range request first. */
const PROBE_BYTES = 1;
const ACCOUNT: Account = { username: "distributor", password: "pull-secret-1" };
let manager: ManagerDaemon;
let scheduler: SchedulerDaemon;
let seeds: PeerDaemon[];
let peers: PeerDaemon[];
let registry: Registry;
let image: TestImage;
let session: string;
let pat: string;
let realm: string;

beforeAll(async () => {
  registry = await startRegistry({ auth: { kind: "token", accounts: [ACCOUNT] } });
  image = buildImage(LAYER_SIZES);
  const pushed = await skopeo({ auths: { [registry.host]: ACCOUNT } })(["copy", "--preserve-digests", "--dest-tls-verify=false", image.reference, `docker://${registry.host}/demo/app:v1`]);
  expect(pushed.code).toBe(0);
  const challenge = (await fetch(`${registry.url}/v2/`)).headers.get("www-authenticate") ?? "";
  realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  manager = await spawnManager();
  session = await rootToken(manager.url);
  pat = await personalAccessToken(manager.url, session, ["job"]);
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--job.claimInterval", "100ms"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seeds = await Promise.all(["iseed1", "iseed2"].map((name) => spawnPeer({ name, seed: true, schedulers: [scheduler.address] })));
  peers = await Promise.all(["ipeer1", "ipeer2"].map((name) => spawnPeer({ name, schedulers: [scheduler.address] })));
  await waitFor(async () => {
    const job = await runJob(manager.url, session, { type: "sync_peers", scheduler_cluster_ids: [1] });
    return job.result?.job_states?.[0]?.results?.[0]?.hosts?.length === 4;
  }, "all hosts to announce", 30_000);
}, 180_000);

afterAll(async () => {
  await Promise.all([...(peers ?? []), ...(seeds ?? [])].map((p) => p.kill()));
  await scheduler?.kill();
  await manager?.kill();
  await registry?.stop();
}, 60_000);

/** A registry token as Harbor mints one for its distributor account. */
async function registryToken(): Promise<string> {
  const url = `${realm}?service=libellula-test-registry&scope=repository:demo/app:pull`;
  const answer = await fetch(url, { headers: { authorization: `Basic ${btoa(`${ACCOUNT.username}:${ACCOUNT.password}`)}` } });
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { token: string }).token;
}

/** Harbor's HTTP client: JSON accept, bearer PAT (auth mode OAUTH). */
function harbor(method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { Accept: "application/json", Authorization: `Bearer ${pat}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${manager.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

test("Harbor's calls preheat an image: health, create, poll to SUCCESS, and every peer then gets each layer without the registry", async () => {
  const health = await harbor("GET", "/healthy");
  expect(health.status).toBe(200);

  const manifestUrl = `${registry.url}/v2/demo/app/manifests/v1`;
  // Go's json.Marshal of Harbor's dragonflyCreateJobRequest: every key present, in this order.
  const body = {
    type: "preheat",
    args: {
      type: "image",
      url: manifestUrl,
      tag: "",
      filtered_query_params: "",
      headers: { Authorization: `Bearer ${await registryToken()}` },
      scope: "all_seed_peers",
      concurrent_count: 0,
      timeout: 0,
    },
    scheduler_cluster_ids: [1],
  };
  const created = await harbor("POST", "/oapi/v1/jobs", body);
  expect(created.status).toBe(200);
  const job = (await created.json()) as { id: number; created_at: string; updated_at: string; state: string };
  expect(Number.isInteger(job.id)).toBe(true);
  expect(Number.isNaN(Date.parse(job.created_at))).toBe(false);
  expect(Number.isNaN(Date.parse(job.updated_at))).toBe(false);
  expect(job.state).toBe("PENDING");

  const seen = new Set<string>();
  const done = await waitFor(async () => {
    const poll = await harbor("GET", `/oapi/v1/jobs/${job.id}`);
    expect(poll.status).toBe(200);
    const value = (await poll.json()) as { state: string; result: { job_states: { error: string; results: { success_tasks: { url: string; hostname: string; ip: string }[]; failure_tasks: unknown[]; scheduler_cluster_id: number }[] }[] } | null };
    seen.add(value.state);
    return value.state === "PENDING" ? undefined : value;
  }, "Harbor's job to end", 120_000);
  expect([...seen].every((s) => ["PENDING", "SUCCESS", "FAILURE"].includes(s))).toBe(true);
  expect(done.state).toBe("SUCCESS");
  const result = done.result!.job_states[0]!.results[0]!;
  expect(result.scheduler_cluster_id).toBe(1);
  expect(result.failure_tasks).toEqual([]);
  const blobs = [image.config, ...image.layers].map((b) => `${registry.url}/v2/demo/app/blobs/${b.digest}`);
  // Both seeds hold the config and every layer.
  expect(result.success_tasks.map((t) => `${t.hostname} ${t.url}`).sort()).toEqual(
    blobs.flatMap((url) => ["iseed1", "iseed2"].map((h) => `${h} ${url}`)).sort(),
  );
  const served = new Map([image.config, ...image.layers].map((b) => [b.digest, registry.blobBytes(b.digest)]));
  // The config is a few hundred bytes: tasks that small go straight to the source on every host.
  expect(served.get(image.config.digest)!).toBeLessThanOrEqual(2 * image.config.size + 2 * PROBE_BYTES);
  for (const b of image.layers) {
    expect(served.get(b.digest)!).toBeGreaterThanOrEqual(b.size);
    expect(served.get(b.digest)!).toBeLessThanOrEqual(b.size + 2 * PROBE_BYTES);
  }

  // Re-preheating the same image answers 200 (never 208) with a new job.
  const again = await harbor("POST", "/oapi/v1/jobs", body);
  expect(again.status).toBe(200);
  expect(((await again.clone().json()) as { id: number }).id).not.toBe(job.id);

  const token = await registryToken();
  for (const peer of peers) {
    for (const layer of image.layers) {
      const out = join(tempDir(), "layer");
      const url = `${registry.url}/v2/demo/app/blobs/${layer.digest}`;
      const fetched = await runCli("dfget", [url, "-O", out, "-e", peer.socket, "-H", `Authorization: Bearer ${token}`]);
      expect(fetched.stderr).toBe("");
      expect(`sha256:${await sha256File(out)}`).toBe(layer.digest);
    }
  }
  // The registry served each blob at most once in total, across both preheats and every peer.
  await waitFor(async () => ((await api(manager.url, "GET", `/oapi/v1/jobs/${((await again.clone().json()) as { id: number }).id}`, { token: pat })).body.state !== "PENDING"), "the second preheat");
  for (const b of image.layers) expect(registry.blobBytes(b.digest)).toBeLessThanOrEqual(served.get(b.digest)! + peers.length * PROBE_BYTES);
});

test("without given headers the scheduler follows the registry's token auth with the job's credentials", async () => {
  const other = buildImage([1 * MIB], "v2");
  const pushed = await skopeo({ auths: { [registry.host]: ACCOUNT } })(["copy", "--preserve-digests", "--dest-tls-verify=false", other.reference, `docker://${registry.host}/demo/other:v2`]);
  expect(pushed.code).toBe(0);
  const job = await runJob(manager.url, pat, {
    type: "preheat",
    args: { type: "image", url: `${registry.url}/v2/demo/other/manifests/v2`, username: ACCOUNT.username, password: ACCOUNT.password, platform: "linux/amd64" },
    scheduler_cluster_ids: [1],
  }, "/oapi/v1/jobs");
  expect(job.state).toBe("SUCCESS");
  const hosts = job.result.job_states[0].results[0].success_tasks as { url: string; hostname: string }[];
  expect(hosts).toHaveLength(2);
  expect(new Set(hosts.map((t) => t.hostname)).size).toBeGreaterThanOrEqual(1);
  for (const b of [other.config, ...other.layers]) {
    expect(registry.blobBytes(b.digest)).toBeGreaterThanOrEqual(b.size);
    expect(registry.blobBytes(b.digest)).toBeLessThanOrEqual(b.size + PROBE_BYTES);
  }
});

test("a registry 401 and a missing manifest fail the job with the error in its result", async () => {
  const denied = await runJob(manager.url, pat, {
    type: "preheat",
    args: { type: "image", url: `${registry.url}/v2/demo/app/manifests/v1`, username: ACCOUNT.username, password: "wrong" },
    scheduler_cluster_ids: [1],
  }, "/oapi/v1/jobs");
  expect(denied.state).toBe("FAILURE");
  expect(denied.result.job_states[0].error).toContain("401");
  expect(denied.result.job_states[0].results[0].failure_tasks[0].url).toBe(`${registry.url}/v2/demo/app/manifests/v1`);

  const missing = await runJob(manager.url, pat, {
    type: "preheat",
    args: { type: "image", url: `${registry.url}/v2/demo/app/manifests/nope`, username: ACCOUNT.username, password: ACCOUNT.password },
    scheduler_cluster_ids: [1],
  }, "/oapi/v1/jobs");
  expect(missing.state).toBe("FAILURE");
  expect(missing.result.job_states[0].error).toContain("Cannot get the image manifest");
  expect(missing.result.job_states[0].error).toContain("404");

  const badUrl = await api(manager.url, "POST", "/oapi/v1/jobs", { token: pat, body: { type: "preheat", args: { type: "image", url: `${registry.url}/demo/app:v1` } } });
  expect(badUrl.status).toBe(400);
  expect(JSON.stringify(badUrl.body)).toContain("manifest URL");
});

test("the open API refuses a missing or unknown token", async () => {
  expect((await fetch(`${manager.url}/oapi/v1/jobs/1`)).status).toBe(401);
  expect((await fetch(`${manager.url}/oapi/v1/jobs/1`, { headers: { Authorization: "Bearer nope" } })).status).toBe(401);
});
