/**
 * dfdaemon finds its schedulers through the manager (issue 3): it refreshes the list, so a scheduler that
 * joins is used, and it health-checks each one, so a scheduler killed without a word is dropped before the
 * manager notices it is gone.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { spawnManager, type ManagerDaemon } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);
const MIB = 1024 * 1024;
let manager: ManagerDaemon;
let schedulerA: SchedulerDaemon;
let schedulerB: SchedulerDaemon | undefined;
let peer: PeerDaemon;
let origin: Origin;

/** The scheduler lists the peer has logged, oldest first. */
function updates(daemon: PeerDaemon): string[][] {
  return daemon
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; schedulers?: string[] };
        return entry.msg === "Schedulers updated" && entry.schedulers ? [[...entry.schedulers].sort()] : [];
      } catch {
        return [];
      }
    });
}

const latest = (daemon: PeerDaemon) => updates(daemon).at(-1)?.join(",");

beforeAll(async () => {
  origin = startOrigin();
  manager = await spawnManager();
  // A long keep-alive interval: the manager keeps a silent scheduler listed for three of them.
  const common = ["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "20s"];
  schedulerA = await spawnScheduler([...common, "--server.host", "disc-a"]);
  await waitFor(() => /Registered with the manager/.test(schedulerA.output()), "scheduler A's registration", 30_000);
  peer = await spawnPeer({ name: "discpeer", extra: ["--manager.addr", manager.grpc, "--dynconfig.refreshInterval", "300ms"] });
}, 120_000);

afterAll(async () => {
  await peer?.kill();
  await Promise.all([schedulerA, schedulerB].map((s) => s?.kill("SIGKILL")));
  await manager?.kill();
  await origin?.stop();
}, 60_000);

test("a scheduler that joins is picked up, one killed is dropped by the health check, and downloads keep working", async () => {
  await waitFor(() => latest(peer) === schedulerA.address, "the peer to use scheduler A", 30_000);

  schedulerB = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "20s", "--server.host", "disc-b"]);
  await waitFor(() => /Registered with the manager/.test(schedulerB!.output()), "scheduler B's registration", 30_000);
  const both = [schedulerA.address, schedulerB.address].sort().join(",");
  await waitFor(() => latest(peer) === both, "the peer to add scheduler B", 30_000);

  // SIGKILL: no deregistration; the manager still lists B, but B no longer answers its health check.
  // The wait's bound (30 s) is below the 60 s (three intervals) the manager would take to turn B inactive.
  await schedulerB.kill("SIGKILL");
  await waitFor(() => latest(peer) === schedulerA.address, "the peer to drop scheduler B", 30_000);

  const file = origin.add("/discovery.bin", randomFile(5 * MIB).data);
  const out = join(tempDir(), "discovery.bin");
  const result = await runCli("dfget", [origin.url("/discovery.bin"), "-O", out, "-e", peer.socket]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(await sha256File(out)).toBe(file.sha256);
  expect(latest(peer)).toBe(schedulerA.address);
});
