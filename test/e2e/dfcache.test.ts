/** dfcache end to end: a scheduler, a seed peer and 3 peers; import with replicas, export, stat, delete, TTL expiry. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import type { PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile } from "../helpers/origin.ts";
import { metric, runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);
let cluster: Cluster;
let dir: string;
let daemons: PeerDaemon[];

beforeAll(async () => {
  dir = tempDir("libellula-dfcache-");
  cluster = await startCluster({ peers: 3 });
  daemons = [cluster.seed, ...cluster.peers];
});

afterAll(async () => {
  await cluster?.stop();
});

const dfcache = (daemon: PeerDaemon, ...args: string[]) => runCli("dfcache", [...args, "-e", daemon.socket]);

/** Where a daemon keeps a persistent cache task's content. */
const contentPath = (daemon: PeerDaemon, taskId: string) =>
  join(daemon.dir, "storage", "content", "persistent-cache-tasks", taskId.slice(0, 3), taskId);

/** The daemons holding a complete, correct copy of a task. */
async function holders(taskId: string, sha256: string): Promise<PeerDaemon[]> {
  const out: PeerDaemon[] = [];
  for (const daemon of daemons) {
    const path = contentPath(daemon, taskId);
    if (existsSync(path) && (await sha256File(path).catch(() => "")) === sha256) out.push(daemon);
  }
  return out;
}

async function stat(daemon: PeerDaemon, taskId: string): Promise<Record<string, unknown>> {
  const result = await dfcache(daemon, "stat", taskId, "--json");
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

function writeRandom(name: string, size: number): { path: string; sha256: string; data: Uint8Array } {
  const file = randomFile(size);
  const path = join(dir, name);
  writeFileSync(path, file.data);
  return { path, ...file };
}

describe("dfcache with a scheduler, a seed peer and 3 peers", () => {
  let taskId: string;
  let file: ReturnType<typeof writeRandom>;
  let exporter: PeerDaemon;

  test("an import with 3 persistent replicas ends up on the importer and 2 other hosts", async () => {
    file = writeRandom("model.bin", 24 * MIB + 123);
    const importer = cluster.peers[0]!;
    const result = await dfcache(importer, "import", file.path, "--persistent-replica-count", "3", "--ttl", "10m");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    taskId = result.stdout.trim();
    // The task ID is sha256 of the bytes, then "PERSISTENT_CACHE" (no tag, application or piece length given).
    expect(taskId).toBe(createHash("sha256").update(file.data).update("PERSISTENT_CACHE").digest("hex"));
    const copies = await waitFor(async () => {
      const found = await holders(taskId, file.sha256);
      return found.length === 3 ? found : undefined;
    }, "3 complete copies", 30_000);
    expect(copies).toContain(importer);
    const info = await waitFor(async () => {
      const s = await stat(cluster.peers[1]!, taskId);
      return s.current_persistent_replica_count === 3 ? s : undefined;
    }, "the scheduler to count 3 persistent replicas");
    expect(info).toMatchObject({
      id: taskId,
      state: "Succeeded",
      content_length: file.data.length,
      piece_length: 4 * MIB,
      piece_count: 7,
      persistent_replica_count: 3,
    });
    expect(info.ttl_seconds).toBe(600);
    // Replication copies files between peers: bytes moved peer to peer, never from an origin.
    let replicated = 0;
    for (const daemon of copies) if (daemon !== importer) replicated += await metric(daemon.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" });
    expect(replicated).toBe(2 * file.data.length);
    // Exactly 3 copies: replication did not overshoot.
    expect((await holders(taskId, file.sha256)).length).toBe(3);
  });

  test("an export on the host without a copy fetches it from peers", async () => {
    const [missing] = daemons.filter((d) => !existsSync(contentPath(d, taskId)));
    expect(missing).toBeDefined();
    exporter = missing!;
    const before = await metric(exporter.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" });
    const uploadedBefore = await Promise.all(daemons.map((d) => metric(d.metricsPort, "libellula_upload_traffic_bytes_total")));
    const output = join(dir, "exported.bin");
    const result = await dfcache(exporter, "export", taskId, "-O", output, "--digest", `sha256:${file.sha256}`);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await sha256File(output)).toBe(file.sha256);
    const fromPeers = (await metric(exporter.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" })) - before;
    expect(fromPeers).toBe(file.data.length);
    const uploadedAfter = await Promise.all(daemons.map((d) => metric(d.metricsPort, "libellula_upload_traffic_bytes_total")));
    const served = uploadedAfter.reduce((sum, n, i) => sum + n - uploadedBefore[i]!, 0);
    expect(served).toBe(file.data.length);
    // The export is a cached copy, not a fourth persistent replica.
    const info = await waitFor(async () => {
      const s = await stat(exporter, taskId);
      return s.current_replica_count === 4 ? s : undefined;
    }, "the scheduler to count the exported copy");
    expect(info.current_persistent_replica_count).toBe(3);
    // An existing output is refused unless --overwrite is given.
    const again = await dfcache(exporter, "export", taskId, "-O", output);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("file exists");
    const transferred = join(dir, "transferred.bin");
    const overWire = await dfcache(cluster.peers[0]!, "export", taskId, "-O", transferred, "--transfer-from-dfdaemon");
    expect(overWire.stderr).toBe("");
    expect(await sha256File(transferred)).toBe(file.sha256);
  });

  test("a replica lost with its host is made again: the exported copy is promoted", async () => {
    const importer = cluster.peers[0]!;
    const copies = await holders(taskId, file.sha256);
    expect(copies).toHaveLength(4);
    const persistentBefore = (await stat(importer, taskId)).current_persistent_replica_count;
    expect(persistentBefore).toBe(3);
    // A persistent holder other than the importer and the exporter leaves the cluster.
    const leaving = daemons.find((d) => d !== importer && d !== exporter && copies.includes(d))!;
    expect(leaving).toBeDefined();
    await leaving.kill();
    daemons = daemons.filter((d) => d !== leaving);
    const info = await waitFor(async () => {
      const s = await stat(importer, taskId);
      return s.current_persistent_replica_count === 3 && s.current_replica_count === 3 ? s : undefined;
    }, "the scheduler to restore 3 persistent replicas", 30_000);
    expect(info.persistent_replica_count).toBe(3);
    // No bytes moved: the exporter's copy became a replica.
    expect(await holders(taskId, file.sha256)).toEqual(daemons);
  });

  test("delete removes the task from every host and from the scheduler", async () => {
    const result = await dfcache(daemons[daemons.length - 1]!, "delete", taskId);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    for (const daemon of daemons) expect(existsSync(contentPath(daemon, taskId))).toBe(false);
    const gone = await dfcache(daemons[0]!, "stat", taskId);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`Persistent cache task "${taskId}" not found`);
    const exported = await dfcache(daemons[1]!, "export", taskId, "-O", join(dir, "after-delete.bin"));
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain("not found");
    expect(existsSync(join(dir, "after-delete.bin"))).toBe(false);
  });

  test("a task whose TTL ends is removed from every host", async () => {
    const short = writeRandom("short.bin", 5 * MIB);
    const started = Date.now();
    const result = await dfcache(daemons[daemons.length - 1]!, "import", short.path, "--persistent-replica-count", "2", "--ttl", "4s", "--tag", "short");
    expect(result.code).toBe(0);
    const id = result.stdout.trim();
    await waitFor(async () => (await holders(id, short.sha256)).length === 2, "2 copies of the short-lived task", 20_000);
    const importedAt = Date.now();
    await waitFor(async () => daemons.every((d) => !existsSync(contentPath(d, id))), "the short-lived task to leave every host", 30_000);
    const removedAfter = Date.now() - started;
    // Not before its TTL: it was still there when both copies existed, and it went after 4 s.
    expect(removedAfter).toBeGreaterThanOrEqual(4_000);
    expect(importedAt - started).toBeLessThan(4_000);
    const gone = await dfcache(cluster.peers[0]!, "stat", id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("not found");
  });

  test("bad input gets a clear message and a non-zero exit", async () => {
    const peer = cluster.peers[0]!;
    const missing = await dfcache(peer, "import", join(dir, "no-such-file"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no such file");
    const small = writeRandom("small.bin", 1000);
    for (const ttl of ["abc", "0s", "8d"]) {
      const bad = await dfcache(peer, "import", small.path, "--ttl", ttl);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(`invalid "--ttl" "${ttl}"`);
    }
    const replicas = await dfcache(peer, "import", small.path, "--persistent-replica-count", "0");
    expect(replicas.code).toBe(2);
    expect(replicas.stderr).toContain('invalid "--persistent-replica-count" "0"');
    const unknown = "0".repeat(64);
    for (const args of [["stat", unknown], ["export", unknown, "-O", join(dir, "unknown.bin")], ["delete", unknown]]) {
      const result = await dfcache(peer, ...args);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`"${unknown}" not found`);
    }
    const malformed = await dfcache(peer, "stat", "not-a-task");
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('invalid task ID "not-a-task"');
    const noOutput = await dfcache(peer, "export", unknown);
    expect(noOutput.code).toBe(2);
    expect(noOutput.stderr).toContain('missing "--output"');
    const noDaemon = await runCli("dfcache", ["stat", unknown, "-e", join(dir, "nowhere.sock")]);
    expect(noDaemon.code).toBe(1);
    expect(noDaemon.stderr).toContain("no such socket");
  });
});
