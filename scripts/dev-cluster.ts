/**
 * `npm start`: a local all-in-one cluster on this machine: a demo origin, the manager (when built),
 * a scheduler, a seed peer and a peer. Data and logs go to .cluster/; Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, openSync, closeSync, writeSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createConnection } from "node:net";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const data = join(root, ".cluster");
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

const sample = join(files, "sample.bin");
if (!existsSync(sample) || statSync(sample).size !== 64 * 1024 * 1024) {
  const fd = openSync(sample, "w");
  for (let i = 0; i < 64; i++) writeSync(fd, randomBytes(1024 * 1024));
  closeSync(fd);
}

const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

/** The console's first account; printed below. Override with LIBELLULA_INITIAL_ROOT_PASSWORD. */
const rootPassword = process.env.LIBELLULA_INITIAL_ROOT_PASSWORD ?? randomBytes(9).toString("base64url");

function start(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const log = createWriteStream(join(logs, `${name}.log`), { flags: "a" });
  const child = spawn(join(root, "bin", command), args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  child.once("exit", (code, signal) => {
    if (!stopping) {
      console.error(`\n${name} exited (${signal ?? code}); see ${join(logs, `${name}.log`)}. Stopping the cluster.`);
      void stop(1);
    }
  });
  children.push({ name, child });
  return child;
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

async function stop(code: number): Promise<never> {
  stopping = true;
  console.log("\nStopping the cluster…");
  for (const { name, child } of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGTERM");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    console.log(`  stopped ${name}`);
  }
  origin?.stop(true);
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const wanted = [PORTS.origin, PORTS.scheduler, PORTS.schedulerOps, ...Object.values(PORTS.seed), ...Object.values(PORTS.peer)];
const withManager = existsSync(join(root, "bin", "manager")) && existsSync(join(root, "src", "manager", "main.bun.ts"));
if (withManager) wanted.push(PORTS.manager, PORTS.managerGrpc);
for (const port of wanted) {
  if (await portInUse(port)) {
    console.error(`Port ${port} is already in use on 127.0.0.1; stop whatever uses it (an earlier cluster?) and retry.`);
    process.exit(1);
  }
}

// A demo origin with Range support, serving .cluster/files/.
const origin = Bun.serve({
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
  console.error(String(error));
  await stop(1);
}

const rel = (path: string) => path.replace(`${root}/`, "");
console.log(`
Libellula is running (data and logs in ${rel(data)}/):
${withManager ? `  console     http://127.0.0.1:${PORTS.manager}/   <- open in a browser: dashboard, clusters, traffic, task graphs
              sign in as "root" with password "${rootPassword}" (on a fresh .cluster/manager; else your earlier one)
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
