/** The P2P core end to end: an origin, a scheduler, a seed peer and peers, all real processes on loopback. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, openSync, readdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { metric, runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);
let origin: Origin;
let cluster: Cluster;
let out: string;

const traffic = (port: number, type: string) => metric(port, "libellula_download_traffic_bytes_total", { type });
const uploaded = (port: number) => metric(port, "libellula_upload_traffic_bytes_total");

beforeAll(async () => {
  origin = startOrigin();
  out = tempDir("libellula-p2p-");
  cluster = await startCluster({ peers: 3 });
});

afterAll(async () => {
  await cluster?.stop();
  await origin?.stop();
});

describe("a cluster of a scheduler, a seed peer and 3 peers", () => {
  test("a 64 MiB file reaches every peer, the origin sends it about once, peers share pieces", async () => {
    const file = origin.add("/model.bin", randomFile(64 * MIB).data);
    const results = await Promise.all(
      cluster.peers.map((peer, i) => runCli("dfget", [origin.url("/model.bin"), "-O", join(out, `model-${i}`), "-e", peer.socket])),
    );
    for (const result of results) expect(result.stderr).toBe("");
    for (let i = 0; i < cluster.peers.length; i++) expect(await sha256File(join(out, `model-${i}`))).toBe(file.sha256);
    expect(origin.sent("/model.bin") / file.data.length).toBeLessThanOrEqual(1.1);
    let servedByPeers = 0;
    for (const peer of cluster.peers) {
      expect(await traffic(peer.metricsPort, "remote_peer")).toBeGreaterThan(0);
      servedByPeers += await uploaded(peer.metricsPort);
    }
    expect(await traffic(cluster.seed.metricsPort, "back_to_source")).toBe(file.data.length);
    expect(servedByPeers).toBeGreaterThan(0);
  });

  test("a later peer gets the file from the cluster without touching the origin", async () => {
    const file = origin.add("/later.bin", randomFile(24 * MIB).data);
    const first = await runCli("dfget", [origin.url("/later.bin"), "-O", join(out, "later-0"), "-e", cluster.peers[0]!.socket]);
    expect(first.code).toBe(0);
    const sentBefore = origin.sent("/later.bin");
    const second = await runCli("dfget", [origin.url("/later.bin"), "-O", join(out, "later-1"), "-e", cluster.peers[1]!.socket]);
    expect(second.code).toBe(0);
    expect(await sha256File(join(out, "later-1"))).toBe(file.sha256);
    // Only the one-byte stat request reaches the origin.
    expect(origin.sent("/later.bin") - sentBefore).toBeLessThanOrEqual(1);
  });

  test("a corrupted piece on a parent is caught by its CRC and fetched elsewhere", async () => {
    const file = origin.add("/corrupt.bin", randomFile(16 * MIB).data);
    const holder = cluster.peers[0]!;
    const first = await runCli("dfget", [origin.url("/corrupt.bin"), "-O", join(out, "corrupt-0"), "-e", holder.socket]);
    expect(first.code).toBe(0);
    // Flip bytes in every piece of the holder's content file, and in the seed's: the child must detect it.
    for (const dir of [holder.dir, cluster.seed.dir]) {
      const tasks = join(dir, "storage", "content", "tasks");
      for (const prefix of readdirSync(tasks)) {
        for (const id of readdirSync(join(tasks, prefix))) {
          const fd = openSync(join(tasks, prefix, id), "r+");
          for (let offset = 1000; offset < 16 * MIB; offset += 4 * MIB) writeSync(fd, new Uint8Array([1, 2, 3, 4]), 0, 4, offset);
          closeSync(fd);
        }
      }
    }
    const child = cluster.peers[2]!;
    const result = await runCli("dfget", [origin.url("/corrupt.bin"), "-O", join(out, "corrupt-2"), "-e", child.socket]);
    expect(result.stderr).toBe("");
    expect(await sha256File(join(out, "corrupt-2"))).toBe(file.sha256);
    expect(await metric(child.metricsPort, "libellula_download_piece_failures_total", { reason: "digest" })).toBeGreaterThan(0);
  });
});

describe("failures", () => {
  test("a parent killed mid-transfer: the child completes from others", async () => {
    await using failing = await startCluster({ peers: 2, peerExtra: ["--upload.bandwidthLimit", "40MB"], seedExtra: ["--upload.bandwidthLimit", "40MB"] });
    const file = origin.add("/killed.bin", randomFile(64 * MIB).data);
    const [parent, child] = failing.peers as [typeof failing.peers[0], typeof failing.peers[0]];
    expect((await runCli("dfget", [origin.url("/killed.bin"), "-O", join(out, "killed-0"), "-e", parent.socket])).code).toBe(0);
    const download = runCli("dfget", [origin.url("/killed.bin"), "-O", join(out, "killed-1"), "-e", child.socket]);
    await waitFor(async () => (await traffic(child.metricsPort, "remote_peer")) > 0, "the child's first piece");
    await parent.kill("SIGKILL");
    const result = await download;
    expect(result.stderr).toBe("");
    expect(await sha256File(join(out, "killed-1"))).toBe(file.sha256);
    expect(origin.sent("/killed.bin") / file.data.length).toBeLessThanOrEqual(2.1);
  });

  test("with the scheduler killed, peers go back to source", async () => {
    await using broken = await startCluster({ peers: 1 });
    await broken.scheduler.kill("SIGKILL");
    const file = origin.add("/no-scheduler.bin", randomFile(12 * MIB).data);
    const result = await runCli("dfget", [origin.url("/no-scheduler.bin"), "-O", join(out, "no-scheduler"), "-e", broken.peers[0]!.socket]);
    expect(result.stderr).toBe("");
    expect(await sha256File(join(out, "no-scheduler"))).toBe(file.sha256);
    const refused = await runCli("dfget", [origin.url("/no-scheduler.bin"), "-O", join(out, "no-scheduler-2"), "-e", broken.peers[0]!.socket, "--disable-back-to-source", "--tag", "other"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("back-to-source is disabled");
  });
});
