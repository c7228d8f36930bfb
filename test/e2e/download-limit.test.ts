/**
 * download.bandwidthLimit holds a daemon's downloads to its rate, from the origin and from parents alike. The check
 * is a lower bound on the time (a busy machine only makes it longer): 12 MiB at 4 MB/s, with one second's worth
 * allowed at once, cannot arrive in under 2 s.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { runCli, sha256File, tempDir } from "../helpers/processes.ts";

setDefaultTimeout(120_000);
const MIB = 1024 * 1024;
const LIMIT = ["--download.bandwidthLimit", "4MB"];
/** 12 MiB less the one-second burst of 4 MB, at 4 MB/s. */
const FLOOR_MS = ((12 * MIB - 4e6) / 4e6) * 1000;

let origin: Origin;
let cluster: Cluster;
let alone: PeerDaemon;
const out = tempDir("libellula-download-limit-");

beforeAll(async () => {
  origin = startOrigin();
  // The seed is not limited; the peer that takes pieces from it is.
  cluster = await startCluster({ peers: 1, peerExtra: LIMIT });
  // Without a scheduler this one goes straight to the origin.
  alone = await spawnPeer({ name: "limited-alone", extra: LIMIT });
});

afterAll(async () => {
  await alone?.kill();
  await cluster?.stop();
  await origin?.stop();
});

async function timedDfget(path: string, daemon: PeerDaemon, output: string): Promise<number> {
  const started = performance.now();
  const result = await runCli("dfget", [origin.url(path), "-O", output, "-e", daemon.socket, "--no-progress"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return performance.now() - started;
}

test("a limited daemon fetching from the origin takes at least the time its limit allows", async () => {
  const file = origin.add("/from-origin.bin", randomFile(12 * MIB).data);
  const elapsed = await timedDfget("/from-origin.bin", alone, join(out, "from-origin"));
  expect(await sha256File(join(out, "from-origin"))).toBe(file.sha256);
  expect(elapsed).toBeGreaterThanOrEqual(FLOOR_MS);
});

test("a limited peer fetching from a parent takes at least the time its limit allows", async () => {
  const file = origin.add("/from-parent.bin", randomFile(12 * MIB).data);
  // The seed holds the file first, so the peer's bytes all come from a parent.
  const seeded = await runCli("dfget", [origin.url("/from-parent.bin"), "-O", join(out, "seeded"), "-e", cluster.seed.socket, "--no-progress"]);
  expect(seeded.code).toBe(0);
  const elapsed = await timedDfget("/from-parent.bin", cluster.peers[0]!, join(out, "from-parent"));
  expect(await sha256File(join(out, "from-parent"))).toBe(file.sha256);
  expect(elapsed).toBeGreaterThanOrEqual(FLOOR_MS);
});
