/**
 * `npm start`: a local all-in-one cluster on this machine: a demo origin, the manager (when built),
 * a scheduler, a seed peer and a peer, on fixed ports of 127.0.0.1 (8090 origin, 8080 and 65003 manager,
 * 8002 and 8000 scheduler, 4000-4005 seed peer, 4100-4105 peer).
 *
 * Data and logs go to `.cluster/` in the repository, or to the directory in `LIBELLULA_CLUSTER_DIR`.
 *
 * Each daemon runs in its own process group, so a Ctrl-C reaches only this script, which then stops them
 * in reverse order of start (SIGTERM, SIGKILL after a grace period). SIGINT, SIGTERM and SIGHUP all stop
 * the cluster. Exit code: 0 after a requested stop in which every daemon stopped cleanly, 1 when a daemon
 * died, did not start, or did not stop cleanly, or when a port is already in use.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream, existsSync, mkdirSync, openSync, closeSync, writeSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";
import { join, resolve } from "node:path";

const root = join(import.meta.dir, "..");
const data = resolve(process.env.LIBELLULA_CLUSTER_DIR || join(root, ".cluster"));
const logs = join(data, "logs");
const files = join(data, "files");
mkdirSync(logs, { recursive: true });
mkdirSync(files, { recursive: true });

const PORTS = {
  origin: 8090,
  manager: 8080,
  managerGrpc: 65003,
  scheduler: 8002,
  schedulerOps: 8000,
  seed: { upload: 4000, proxy: 4001, metrics: 4002, health: 4003, vortex: 4005 },
  peer: { upload: 4100, proxy: 4101, metrics: 4102, health: 4103, vortex: 4105 },
};

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** How long a daemon may take to stop after SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** How long to wait for the last log lines to reach the files before exiting. */
const LOG_FLUSH_MS = 2_000;

const children: { name: string; child: ChildProcess; log: WriteStream }[] = [];
/** Set once a stop has begun; every later request to stop gets the same promise. */
let stopping: Promise<never> | undefined;
/** The demo origin, once it listens. */
let origin: ReturnType<typeof Bun.serve> | undefined;

/** The console's first account; printed below. Override with LIBELLULA_INITIAL_ROOT_PASSWORD. */
const rootPassword = process.env.LIBELLULA_INITIAL_ROOT_PASSWORD ?? randomBytes(9).toString("base64url");

/** Raised by start() once the cluster is stopping, so that startup ends without starting more. */
class ClusterStopping extends Error {}

function start(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  if (stopping) throw new ClusterStopping(`Not starting ${name}: the cluster is stopping`);
  const log = createWriteStream(join(logs, `${name}.log`), { flags: "a" });
  // Its own process group: a Ctrl-C in the terminal goes to this script only, which stops the daemons in order.
  const child = spawn(join(root, "bin", command), args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  // Both streams write to one file, which ends once both are closed.
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  child.once("close", () => log.end());
  child.once("exit", (code, signal) => {
    if (!stopping) {
      console.error(`\n${name} exited (${signal ?? code}); see ${join(logs, `${name}.log`)}. Stopping the cluster.`);
      void stop(1);
    }
  });
  children.push({ name, child, log });
  return child;
}

/** Sends `signal` to the process group of `child` (the daemon and anything it started). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Stops one daemon; answers whether it stopped cleanly (exit code 0, or ended by the SIGTERM it was sent). */
async function stopChild(name: string, child: ChildProcess): Promise<boolean> {
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  let killed = false;
  if (!ended()) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    signalGroup(child, "SIGTERM");
    const timer = setTimeout(() => {
      killed = true;
      signalGroup(child, "SIGKILL");
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
  // Anything the daemon left in its group goes too.
  signalGroup(child, "SIGKILL");
  const log = join(logs, `${name}.log`);
  if (killed) {
    console.error(`  ${name} did not stop within ${STOP_GRACE_MS / 1000} s and was killed; see ${log}`);
    return false;
  }
  if (child.exitCode !== 0 && child.signalCode !== "SIGTERM") {
    console.error(`  ${name} exited with ${child.signalCode ?? child.exitCode}; see ${log}`);
    return false;
  }
  console.log(`  stopped ${name}`);
  return true;
}

async function waitHealthy(name: string, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await Bun.sleep(100);
  }
  throw new Error(`${name} did not become healthy at ${url}; see ${join(logs, `${name}.log`)}`);
}

/** Stops every daemon, newest first, then the origin, and exits: `code`, or 1 when a daemon did not stop cleanly. */
function stop(code: number): Promise<never> {
  stopping ??= stopAll(code);
  return stopping;
}

async function stopAll(code: number): Promise<never> {
  console.log("\nStopping the cluster…");
  let exitCode = code;
  for (const { name, child } of [...children].reverse()) {
    if (!(await stopChild(name, child))) exitCode = 1;
  }
  await origin?.stop(true);
  const flushed = Promise.all(children.map(({ log }) => new Promise((resolve) => (log.writableFinished ? resolve(null) : log.once("finish", resolve)))));
  await Promise.race([flushed, Bun.sleep(LOG_FLUSH_MS)]);
  process.exit(exitCode);
}

// npm forwards the terminal's SIGINT as well, so a single Ctrl-C arrives twice: stop() is idempotent.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(0));

const wanted = [PORTS.origin, PORTS.scheduler, PORTS.schedulerOps, ...Object.values(PORTS.seed), ...Object.values(PORTS.peer)];
const withManager = existsSync(join(root, "bin", "manager")) && existsSync(join(root, "src", "manager", "main.bun.ts"));
if (withManager) wanted.push(PORTS.manager, PORTS.managerGrpc);
for (const port of wanted) {
  if (await portInUse(port)) {
    console.error(`Port ${port} is already in use on 127.0.0.1; stop whatever uses it (an earlier cluster?) and retry.`);
    process.exit(1);
  }
}

const sample = join(files, "sample.bin");
if (!existsSync(sample) || statSync(sample).size !== 64 * 1024 * 1024) {
  const fd = openSync(sample, "w");
  for (let i = 0; i < 64; i++) writeSync(fd, randomBytes(1024 * 1024));
  closeSync(fd);
}

// A demo origin with Range support, serving the cluster's files/.
try {
  origin = Bun.serve({
    hostname: "127.0.0.1",
    port: PORTS.origin,
    async fetch(request) {
      const name = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "");
      if (name.includes("..") || name === "") return new Response("not found", { status: 404 });
      const file = Bun.file(join(files, name));
      if (!(await file.exists())) return new Response("not found", { status: 404 });
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      if (!range) return new Response(file);
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), file.size - 1) : file.size - 1;
      if (start >= file.size) return new Response(null, { status: 416, headers: { "content-range": `bytes */${file.size}` } });
      return new Response(file.slice(start, end + 1), {
        status: 206,
        headers: { "content-range": `bytes ${start}-${end}/${file.size}`, "content-length": String(end - start + 1) },
      });
    },
  });
} catch (error) {
  console.error(`Cannot listen on 127.0.0.1:${PORTS.origin} for the demo origin: ${String(error)}`);
  process.exit(1);
}

try {
  if (withManager) {
    start("manager", "manager", ["--port", String(PORTS.manager), "--grpc-port", String(PORTS.managerGrpc), "--data-dir", join(data, "manager")], {
      LIBELLULA_INITIAL_ROOT_PASSWORD: rootPassword,
    });
    await waitHealthy("manager", `http://127.0.0.1:${PORTS.manager}/healthy`, 120_000);
  }
  start("scheduler", "scheduler", [
    "--server.listenIP", "127.0.0.1",
    "--server.advertiseIP", "127.0.0.1",
    "--server.port", String(PORTS.scheduler),
    "--metrics.server.port", String(PORTS.schedulerOps),
    "--server.dataDir", join(data, "scheduler"),
    ...(withManager ? ["--manager.addr", `127.0.0.1:${PORTS.managerGrpc}`] : []),
  ]);
  await waitHealthy("scheduler", `http://127.0.0.1:${PORTS.schedulerOps}/healthy`);
  for (const [name, ports, seed] of [["seed-peer", PORTS.seed, true], ["peer", PORTS.peer, false]] as const) {
    start(name, "dfdaemon", [
      "--host.ip", "127.0.0.1",
      "--host.hostname", name,
      "--upload.server.ip", "127.0.0.1",
      "--upload.server.port", String(ports.upload),
      "--storage.server.ip", "127.0.0.1",
      "--storage.server.tcpPort", String(ports.vortex),
      "--storage.dir", join(data, name, "storage"),
      "--storage.keep", "true",
      "--download.server.socketPath", join(data, name, "dfdaemon.sock"),
      "--health.server.port", String(ports.health),
      "--metrics.server.port", String(ports.metrics),
      "--proxy.server.ip", "127.0.0.1",
      "--proxy.server.port", String(ports.proxy),
      ...(withManager
        ? ["--manager.addr", `127.0.0.1:${PORTS.managerGrpc}`]
        : ["--scheduler.addrs", JSON.stringify([`127.0.0.1:${PORTS.scheduler}`])]),
      "--seedPeer.enable", String(seed),
    ]);
    await waitHealthy(name, `http://127.0.0.1:${ports.health}/healthy`);
  }
} catch (error) {
  if (!(error instanceof ClusterStopping)) console.error(String(error));
  await stop(1);
}

if (stopping) await stopping;

const rel = (path: string) => path.replace(`${root}/`, "");
console.log(`
Libellula is running (data and logs in ${rel(data)}/):
${withManager ? `  console     http://127.0.0.1:${PORTS.manager}/   <- open in a browser: dashboard, clusters, traffic, task graphs
              sign in as "root" with password "${rootPassword}" (on a fresh ${rel(join(data, "manager"))}; else your earlier one)
  manager     REST API http://127.0.0.1:${PORTS.manager}/api/v1   gRPC 127.0.0.1:${PORTS.managerGrpc}\n` : ""}  scheduler   127.0.0.1:${PORTS.scheduler}      metrics http://127.0.0.1:${PORTS.schedulerOps}/metrics
  seed peer   socket ${rel(join(data, "seed-peer", "dfdaemon.sock"))}   metrics http://127.0.0.1:${PORTS.seed.metrics}/metrics
  peer        socket ${rel(join(data, "peer", "dfdaemon.sock"))}        metrics http://127.0.0.1:${PORTS.peer.metrics}/metrics
              proxy and registry mirror http://127.0.0.1:${PORTS.peer.proxy}
  demo origin http://127.0.0.1:${PORTS.origin}/  (serves ${rel(files)}/, e.g. sample.bin, 64 MiB)

Try:
  bin/dfget http://127.0.0.1:${PORTS.origin}/sample.bin -O /tmp/sample.bin -e ${rel(join(data, "peer", "dfdaemon.sock"))}
  curl -s http://127.0.0.1:${PORTS.peer.metrics}/metrics | grep libellula_download_traffic
  curl -x http://127.0.0.1:${PORTS.peer.proxy} -H 'X-Dragonfly-Use-P2P: true' -o /tmp/via-proxy.bin http://127.0.0.1:${PORTS.origin}/sample.bin

Press Ctrl-C to stop everything.`);
await new Promise(() => {});
