/** Starting Libellula's scheduler and dfdaemons for a bench, and reading their health and metrics. */
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { run, startProcess, tail, waitFor, type ManagedProcess } from "./proc.ts";

/** The repository checkout the daemons run from. */
export const REPO_ROOT = join(import.meta.dir, "..", "..");
/**
 * The executables the benches run: the checkout's `bin/` (Bun running the sources), or, with
 * `LIBELLULA_BENCH_BIN_DIR=dist`, the compiled binary that `npm run build` makes (what operators deploy).
 */
export const BIN_DIR = process.env.LIBELLULA_BENCH_BIN_DIR ? resolve(REPO_ROOT, process.env.LIBELLULA_BENCH_BIN_DIR) : join(REPO_ROOT, "bin");

const HEALTH_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_SECONDS = 2;

/** Wraps a command, e.g. to run it in a namespace; identity on loopback. */
export type Wrap = (cmd: string[]) => string[];

/** Fetches a URL's body as text from where the daemon runs; null when unreachable or not 2xx. */
export type Probe = (url: string) => Promise<string | null>;

/** Probe from this process (loopback benches). */
export const localProbe: Probe = async (url) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_SECONDS * 1000) });
    return response.ok ? await response.text() : null;
  } catch {
    return null;
  }
};

/** Probe with curl run through `wrap` (inside a namespace). */
export function curlProbe(wrap: Wrap): Probe {
  return async (url) => {
    const result = await run(wrap(["curl", "-sf", "--max-time", String(PROBE_TIMEOUT_SECONDS), url]));
    return result.code === 0 ? result.stdout : null;
  };
}

/** Path of a Libellula executable in bin/. */
export function binary(name: "scheduler" | "dfdaemon" | "dfget"): string {
  return join(BIN_DIR, name);
}

/** Throws a clear error unless bin/scheduler, bin/dfdaemon and bin/dfget exist and are executable. */
export function requireDaemonBinaries(): void {
  const missing = (["scheduler", "dfdaemon", "dfget"] as const).filter((name) => {
    try {
      accessSync(binary(name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `Missing executable ${missing.map((name) => join(BIN_DIR, name)).join(", ")}: the P2P phase needs the daemons ` +
        `(run with --curl-only to measure only the curl baseline and check the network)`,
    );
  }
}

/** Extra flags for every daemon of a kind, from the environment (whitespace-separated). */
function extraArgs(variable: string): string[] {
  return (process.env[variable] ?? "").split(/\s+/).filter(Boolean);
}

/** A started daemon. */
export interface Daemon {
  readonly name: string;
  readonly process: ManagedProcess;
  readonly healthUrl: string;
  readonly metricsUrl: string;
}

/** How to start the scheduler. */
export interface SchedulerOptions {
  ip: string;
  port: number;
  metricsPort: number;
  logFile: string;
  wrap: Wrap;
  probe: Probe;
}

/** Starts bin/scheduler and waits for /healthy. */
export async function startScheduler(options: SchedulerOptions): Promise<Daemon> {
  const cmd = [
    binary("scheduler"),
    "--server.listenIP", options.ip,
    "--server.advertiseIP", options.ip,
    "--server.port", String(options.port),
    "--metrics.server.port", String(options.metricsPort),
    ...extraArgs("LIBELLULA_BENCH_SCHEDULER_ARGS"),
  ];
  const daemon: Daemon = {
    name: "scheduler",
    process: startProcess("scheduler", options.wrap(cmd), options.logFile, { cwd: REPO_ROOT }),
    healthUrl: `http://${options.ip}:${options.metricsPort}/healthy`,
    metricsUrl: `http://${options.ip}:${options.metricsPort}/metrics`,
  };
  await waitHealthy(daemon, options.probe);
  return daemon;
}

/** How to start one dfdaemon. */
export interface DfdaemonOptions {
  name: string;
  ip: string;
  hostname: string;
  uploadPort: number;
  storagePort: number;
  healthPort: number;
  metricsPort: number;
  proxyPort: number;
  storageDir: string;
  socketPath: string;
  schedulerAddr: string;
  seed: boolean;
  logFile: string;
  wrap: Wrap;
  probe: Probe;
}

/** Starts bin/dfdaemon and waits for /healthy and its download socket. */
export async function startDfdaemon(options: DfdaemonOptions): Promise<Daemon> {
  const cmd = [
    binary("dfdaemon"),
    "--host.ip", options.ip,
    "--host.hostname", options.hostname,
    "--upload.server.ip", options.ip,
    "--upload.server.port", String(options.uploadPort),
    "--storage.server.ip", options.ip,
    "--storage.server.tcpPort", String(options.storagePort),
    "--storage.dir", options.storageDir,
    "--download.server.socketPath", options.socketPath,
    "--scheduler.addrs", JSON.stringify([options.schedulerAddr]),
    "--health.server.port", String(options.healthPort),
    "--metrics.server.port", String(options.metricsPort),
    "--proxy.server.ip", options.ip,
    "--proxy.server.port", String(options.proxyPort),
    ...(options.seed ? ["--seedPeer.enable", "true"] : []),
    ...extraArgs("LIBELLULA_BENCH_DFDAEMON_ARGS"),
  ];
  const daemon: Daemon = {
    name: options.name,
    process: startProcess(options.name, options.wrap(cmd), options.logFile, { cwd: REPO_ROOT }),
    healthUrl: `http://${options.ip}:${options.healthPort}/healthy`,
    metricsUrl: `http://${options.ip}:${options.metricsPort}/metrics`,
  };
  await waitHealthy(daemon, options.probe);
  await waitFor(() => (existsSync(options.socketPath) ? true : null), HEALTH_TIMEOUT_MS, `${options.name}: healthy but no download socket at ${options.socketPath}`);
  return daemon;
}

/** Waits for `daemon`'s /healthy; throws with its log's tail if it exits or never answers. */
export async function waitHealthy(daemon: Daemon, probe: Probe, timeoutMs = HEALTH_TIMEOUT_MS): Promise<void> {
  try {
    await waitFor(
      async () => {
        const code = daemon.process.exitCode();
        if (code !== null) throw new Error(`${daemon.name} exited with code ${code} while starting`);
        return (await probe(daemon.healthUrl)) !== null ? true : null;
      },
      timeoutMs,
      `${daemon.name} did not answer ${daemon.healthUrl} within ${timeoutMs / 1000} s`,
      200,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- ${daemon.process.logFile} (last lines) ---\n${tail(daemon.process.logFile)}`);
  }
}

/** Bytes a dfdaemon downloaded, by traffic type, and bytes it served to other peers. */
export interface Traffic {
  backToSource: number;
  remotePeer: number;
  localPeer: number;
  uploaded: number;
}

/** Reads `libellula_download_traffic_bytes_total` by type from a dfdaemon's /metrics; null if unreachable. */
export async function readTraffic(daemon: Daemon, probe: Probe): Promise<Traffic | null> {
  const text = await probe(daemon.metricsUrl);
  return text === null ? null : parseTraffic(text);
}

/** Sums `libellula_download_traffic_bytes_total` samples by their `type` label, and the upload counter. */
export function parseTraffic(metrics: string): Traffic {
  const traffic: Traffic = { backToSource: 0, remotePeer: 0, localPeer: 0, uploaded: 0 };
  const keys: Record<string, keyof Traffic> = { back_to_source: "backToSource", remote_peer: "remotePeer", local_peer: "localPeer" };
  for (const line of metrics.split("\n")) {
    const upload = /^libellula_upload_traffic_bytes_total(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (upload) traffic.uploaded += Number(upload[1]);
    const match = /^libellula_download_traffic_bytes_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const type = /(?:^|,)\s*type="([^"]*)"/.exec(match[1]!)?.[1];
    const key = type === undefined ? undefined : keys[type];
    if (key) traffic[key] += Number(match[2]);
  }
  return traffic;
}

/** One timed download. */
export interface Fetch {
  host: string;
  code: number;
  /** From spawn to exit. */
  ms: number;
  output: string;
  logFile: string;
  /** Stopped by the bench because it ran past its time limit. */
  timedOut: boolean;
  /** CPU seconds the client process used. */
  cpuSeconds: number | null;
}

/** Runs `cmd` (through `wrap`) to completion with its output in `logFile`, timed from spawn to exit. */
export async function timedRun(host: string, cmd: string[], output: string, logFile: string, wrap: Wrap, timeoutMs: number): Promise<Fetch> {
  const started = performance.now();
  const child = startProcess(host, wrap(cmd), logFile, { cwd: REPO_ROOT });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void child.stop(2000);
  }, timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { host, code, ms: performance.now() - started, output, logFile, timedOut, cpuSeconds: child.cpuSeconds() };
}

/** The dfget command for one download through the daemon at `socketPath`. */
export function dfgetCommand(url: string, output: string, socketPath: string): string[] {
  return [binary("dfget"), url, "-O", output, "-e", socketPath, "--no-progress"];
}

/** The curl command for one download straight from the origin. */
export function curlCommand(url: string, output: string): string[] {
  return ["curl", "-sS", "-f", "-o", output, url];
}

/** Ports of the daemons of a namespace cluster: every host has its own IP, so all use the same numbers. */
export const NAMESPACE_PORTS = {
  scheduler: 8002,
  schedulerMetrics: 8000,
  daemon: { upload: 4000, proxy: 4001, metrics: 4002, health: 4003, storage: 4005 },
} as const;

/** Options of {@link startHostDfdaemon}. */
export interface HostDfdaemonOptions {
  /** The namespace host: the seed peer when it is named `seed`, a peer otherwise. */
  host: { name: string; ip: string };
  /** Where its storage and socket go. */
  dir: string;
  schedulerIp: string;
  logFile: string;
  wrap: Wrap;
  probe: Probe;
}

/** Starts the dfdaemon of one host of a namespace cluster on NAMESPACE_PORTS. */
export function startHostDfdaemon(options: HostDfdaemonOptions): Promise<Daemon> {
  const { host, dir } = options;
  const ports = NAMESPACE_PORTS.daemon;
  mkdirSync(join(dir, "storage"), { recursive: true });
  return startDfdaemon({
    name: host.name === "seed" ? "seed" : `peer ${host.name}`,
    ip: host.ip,
    hostname: `bench-${host.name}`,
    uploadPort: ports.upload,
    storagePort: ports.storage,
    healthPort: ports.health,
    metricsPort: ports.metrics,
    proxyPort: ports.proxy,
    storageDir: join(dir, "storage"),
    socketPath: join(dir, "dfdaemon.sock"),
    schedulerAddr: `${options.schedulerIp}:${NAMESPACE_PORTS.scheduler}`,
    seed: host.name === "seed",
    logFile: options.logFile,
    wrap: options.wrap,
    probe: options.probe,
  });
}
