/** A local cluster of real processes: a scheduler, a seed peer and peers, all on 127.0.0.1. */
import { freePort, spawnDaemon, type Daemon } from "./processes.ts";
import { spawnPeer, type PeerDaemon } from "./dfdaemon.ts";

/** A spawned scheduler. */
export interface SchedulerDaemon extends Daemon {
  address: string;
}

/** Spawns a scheduler on a free port. */
export async function spawnScheduler(extra: string[] = []): Promise<SchedulerDaemon> {
  const port = await freePort();
  const daemon = await spawnDaemon(
    "scheduler",
    ["--server.listenIP", "127.0.0.1", "--server.advertiseIP", "127.0.0.1", "--server.port", String(port), "--metrics.server.port", "0", ...extra],
    /^Scheduler listening$/,
  );
  return { ...daemon, address: `127.0.0.1:${port}` };
}

/** A running cluster. */
export interface Cluster extends AsyncDisposable {
  scheduler: SchedulerDaemon;
  seed: PeerDaemon;
  peers: PeerDaemon[];
  stop(): Promise<void>;
}

/** Starts a scheduler, one seed peer and `peers` peers. */
export async function startCluster(options: { peers: number; peerExtra?: string[]; seedExtra?: string[] }): Promise<Cluster> {
  const scheduler = await spawnScheduler();
  const seed = await spawnPeer({ name: "seed", seed: true, schedulers: [scheduler.address], extra: options.seedExtra });
  const peers = await Promise.all(
    Array.from({ length: options.peers }, (_, i) =>
      spawnPeer({ name: `peer${i + 1}`, schedulers: [scheduler.address], extra: options.peerExtra }),
    ),
  );
  const stop = async () => {
    await Promise.all([...peers, seed].map((p) => p.kill()));
    await scheduler.kill();
  };
  return { scheduler, seed, peers, stop, [Symbol.asyncDispose]: stop };
}
