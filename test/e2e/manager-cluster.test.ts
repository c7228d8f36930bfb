/** A cluster wired through the manager: the scheduler registers, dfdaemons find it with ListSchedulers. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, metric, runCli, sha256File, spawnDaemon, tempDir, waitFor, type Daemon } from "../helpers/processes.ts";

setDefaultTimeout(120_000);
let manager: Daemon;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let peer: PeerDaemon;
let origin: Origin;
let grpc: string;

beforeAll(async () => {
  origin = startOrigin();
  const [http, grpcPort] = await Promise.all([freePort(), freePort()]);
  grpc = `127.0.0.1:${grpcPort}`;
  manager = await spawnDaemon("manager", ["--port", String(http), "--grpc-port", String(grpcPort), "--data-dir", join(tempDir(), "manager")], /^Listening$/, 60_000);
  scheduler = await spawnScheduler(["--manager.addr", grpc, "--manager.keepAlive.interval", "1s"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seed = await spawnPeer({ name: "mseed", seed: true, extra: ["--manager.addr", grpc] });
  peer = await spawnPeer({ name: "mpeer", extra: ["--manager.addr", grpc] });
}, 120_000);

afterAll(async () => {
  await Promise.all([peer?.kill(), seed?.kill()]);
  await scheduler?.kill();
  await manager?.kill();
  await origin?.stop();
}, 60_000);

test("dfdaemons discover the scheduler through the manager and download by P2P", async () => {
  expect(peer.output()).toContain(`"schedulers":["${scheduler.address}"]`);
  const file = origin.add("/via-manager.bin", randomFile(12 * 1024 * 1024).data);
  const out = join(tempDir(), "out");
  const result = await runCli("dfget", [origin.url("/via-manager.bin"), "-O", out, "-e", peer.socket]);
  expect(result.stderr).toBe("");
  expect(await sha256File(out)).toBe(file.sha256);
  expect(await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" })).toBe(file.data.length);
  expect(await metric(seed.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" })).toBe(file.data.length);
});
