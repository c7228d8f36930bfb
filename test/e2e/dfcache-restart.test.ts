/**
 * Persistent cache metadata survives a scheduler restart: with `server.dataDir` the scheduler keeps imported
 * tasks and where their copies are, so after a restart (even a SIGKILL) `dfcache stat` still knows the task,
 * its replicas reattach as their hosts announce themselves, and another host can still export it.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile } from "../helpers/origin.ts";
import { freePort, runCli, sha256File, spawnDaemon, tempDir, waitFor, type Daemon } from "../helpers/processes.ts";

setDefaultTimeout(180_000);
const MIB = 1024 * 1024;
const dir = tempDir("libellula-dfcache-restart-");
const dataDir = join(dir, "scheduler-data");
const daemons: Daemon[] = [];

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.kill("SIGKILL")));
});

async function startScheduler(port: number): Promise<Daemon> {
  const daemon = await spawnDaemon(
    "scheduler",
    ["--server.listenIP", "127.0.0.1", "--server.advertiseIP", "127.0.0.1", "--server.port", String(port), "--metrics.server.port", "0", "--server.dataDir", dataDir],
    /^Scheduler listening$/,
  );
  daemons.push(daemon);
  return daemon;
}

const dfcache = (daemon: PeerDaemon, ...args: string[]) => runCli("dfcache", [...args, "-e", daemon.socket]);

async function stat(daemon: PeerDaemon, taskId: string): Promise<Record<string, unknown> | undefined> {
  const result = await dfcache(daemon, "stat", taskId, "--json");
  return result.code === 0 ? (JSON.parse(result.stdout) as Record<string, unknown>) : undefined;
}

test("a scheduler killed and restarted with its data directory still knows an imported task and its replicas", async () => {
  const port = await freePort();
  const scheduler = await startScheduler(port);
  const peers = await Promise.all(
    ["a", "b", "c"].map((name) =>
      spawnPeer({ name, schedulers: [`127.0.0.1:${port}`], extra: ["--scheduler.announceInterval", "1s"] }),
    ),
  );
  daemons.push(...peers);
  const [importer, other, exporter] = peers as [PeerDaemon, PeerDaemon, PeerDaemon];

  const file = randomFile(9 * MIB + 17);
  const path = join(dir, "model.bin");
  writeFileSync(path, file.data);
  const imported = await dfcache(importer, "import", path, "--persistent-replica-count", "2", "--ttl", "30m");
  expect(imported.stderr).toBe("");
  expect(imported.code).toBe(0);
  const taskId = imported.stdout.trim();
  await waitFor(async () => (await stat(other, taskId))?.current_persistent_replica_count === 2, "2 persistent replicas");
  const before = (await stat(other, taskId))!;
  expect(existsSync(join(dataDir, "persistent-cache.db"))).toBe(true);

  // A crash, not a clean stop: what was written at the last sweep must be enough.
  await scheduler.kill("SIGKILL");
  await startScheduler(port);

  const after = await waitFor(async () => {
    const s = await stat(other, taskId);
    return s?.current_persistent_replica_count === 2 ? s : undefined;
  }, "the restarted scheduler to know the task and both replicas", 60_000);
  expect(after).toMatchObject({
    id: taskId,
    state: "Succeeded",
    content_length: file.data.length,
    persistent_replica_count: 2,
  });
  // The TTL counts from the import, not from the restart.
  expect(Number(after.ttl_seconds)).toBe(Number(before.ttl_seconds));
  expect(String(after.created_at)).toBe(String(before.created_at));

  // A host without a copy exports it from the replicas the restarted scheduler points it to.
  const output = join(dir, "exported.bin");
  const exported = await dfcache(exporter, "export", taskId, "-O", output);
  expect(exported.stderr).toBe("");
  expect(exported.code).toBe(0);
  expect(await sha256File(output)).toBe(file.sha256);
});
