/** Starts dfdaemon processes with isolated ports, storage and socket. */
import { join } from "node:path";
import { freePort, spawnDaemon, tempDir, type Daemon } from "./processes.ts";

/** A spawned dfdaemon and where to reach it. */
export interface PeerDaemon extends Daemon {
  socket: string;
  dir: string;
  metricsPort: number;
  uploadPort: number;
  vortexPort: number;
  proxyPort: number;
}

/** Spawns a dfdaemon on 127.0.0.1; `extra` are more `--key value` flags. */
export async function spawnPeer(options: { name: string; schedulers?: string[]; seed?: boolean; extra?: string[] }): Promise<PeerDaemon> {
  const dir = tempDir(`libellula-${options.name}-`);
  const socket = join(dir, "dfdaemon.sock");
  const [upload, vortex, health, metrics, proxy] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const args = [
    "--host.ip", "127.0.0.1",
    "--host.hostname", options.name,
    "--upload.server.ip", "127.0.0.1",
    "--upload.server.port", String(upload),
    "--storage.server.ip", "127.0.0.1",
    "--storage.server.tcpPort", String(vortex),
    "--storage.dir", join(dir, "storage"),
    "--download.server.socketPath", socket,
    "--health.server.port", String(health),
    "--metrics.server.port", String(metrics),
    "--proxy.server.ip", "127.0.0.1",
    "--proxy.server.port", String(proxy),
    "--scheduler.addrs", JSON.stringify(options.schedulers ?? []),
    "--seedPeer.enable", String(options.seed ?? false),
    ...(options.extra ?? []),
  ];
  const daemon = await spawnDaemon("dfdaemon", args, /^dfdaemon ready$/);
  return { ...daemon, name: options.name, socket, dir, metricsPort: metrics, uploadPort: upload, vortexPort: vortex, proxyPort: proxy };
}
