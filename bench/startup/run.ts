/**
 * Size of the compiled binary and start-up times of its commands: `dfget --version` and `dfget --help` wall
 * time, and the time from spawn to the first 200 from `/healthy` for the manager (a fresh PGlite data
 * directory, then the same one again), the scheduler and dfdaemon. The same from source with Bun for comparison.
 *
 *   bun bench/startup/run.ts [--binary dist/libellula] [--runs 5] [--no-source]
 *
 * Builds dist/libellula first when --binary is not given and it does not exist. Prints a Markdown table.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = join(import.meta.dir, "..", "..");
const bun = join(root, "node_modules", ".bin", "bun");

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const RUNS = Number(option("runs", "5"));
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`Invalid --runs "${option("runs", "")}": want a whole number of at least 1`);
const BINARY = resolve(option("binary", join(root, "dist", "libellula")));
const WITH_SOURCE = !process.argv.includes("--no-source");
/** How long one start may take before the run is declared failed. */
const START_TIMEOUT_MS = 120_000;

if (!existsSync(BINARY)) {
  if (process.argv.includes("--binary")) throw new Error(`No binary at "${BINARY}"`);
  const built = spawnSync(bun, [join(root, "scripts", "build.ts")], { cwd: root, stdio: "inherit" });
  if (built.status !== 0) throw new Error("The build failed");
}

const work = mkdtempSync(join(tmpdir(), "libellula-bench-startup-"));
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** How a command is run: the compiled binary, or the dispatcher from source with Bun. */
type Runner = { name: string; argv: (command: string, args: string[]) => [string, string[]] };
const COMPILED: Runner = { name: "compiled", argv: (command, args) => [BINARY, [command, ...args]] };
const SOURCE: Runner = { name: "source (bun)", argv: (command, args) => [bun, [join(root, "src", "cli", "libellula.ts"), command, ...args]] };

/** Milliseconds a command takes to run to completion. */
function wallTime(runner: Runner, command: string, args: string[]): number {
  const [cmd, argv] = runner.argv(command, args);
  const started = performance.now();
  const result = spawnSync(cmd, argv, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.status}: ${result.stderr}`);
  return elapsed;
}

/** Milliseconds from spawn to the first 200 from http://127.0.0.1:<port>/healthy; the process is stopped after. */
async function timeToHealthy(runner: Runner, command: string, args: string[], port: number, env: Record<string, string> = {}): Promise<number> {
  const [cmd, argv] = runner.argv(command, args);
  const started = performance.now();
  const child = spawn(cmd, argv, { cwd: work, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    while (true) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${command} exited (${child.exitCode ?? child.signalCode}) before it was healthy: ${stderr}`);
      }
      if (performance.now() - started > START_TIMEOUT_MS) throw new Error(`${command} not healthy within ${START_TIMEOUT_MS} ms`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthy`).then((r) => r.ok, () => false);
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
    children.delete(child);
  }
}

async function manager(runner: Runner, dataDir: string): Promise<number> {
  const [http, grpc] = [await freePort(), await freePort()];
  return await timeToHealthy(runner, "manager", ["--port", String(http), "--grpc-port", String(grpc), "--data-dir", dataDir], http, {
    LIBELLULA_INITIAL_ROOT_PASSWORD: "bench-startup-password",
  });
}

async function scheduler(runner: Runner): Promise<number> {
  const [port, ops] = [await freePort(), await freePort()];
  return await timeToHealthy(runner, "scheduler", ["--server.listenIP", "127.0.0.1", "--server.port", String(port), "--metrics.server.port", String(ops)], ops);
}

async function dfdaemon(runner: Runner, dir: string): Promise<number> {
  const [upload, vortex, health, metrics, proxy] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  return await timeToHealthy(
    runner,
    "dfdaemon",
    [
      "--host.ip", "127.0.0.1", "--upload.server.ip", "127.0.0.1", "--upload.server.port", String(upload),
      "--storage.server.ip", "127.0.0.1", "--storage.server.tcpPort", String(vortex), "--storage.dir", join(dir, "storage"),
      "--download.server.socketPath", join(dir, "dfdaemon.sock"), "--health.server.port", String(health),
      "--metrics.server.port", String(metrics), "--proxy.server.ip", "127.0.0.1", "--proxy.server.port", String(proxy),
    ],
    health,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ms = (value: number) => `${Math.round(value)} ms`;

async function measure(runner: Runner): Promise<void> {
  const results = new Map<string, number[]>();
  const add = (what: string, value: number) => {
    results.set(what, [...(results.get(what) ?? []), value]);
    console.error(`${runner.name}, run ${results.get(what)!.length}: ${what.replaceAll("`", "")} ${ms(value)}`);
  };
  for (let run = 0; run < RUNS; run++) {
    add("`dfget --version`", wallTime(runner, "dfget", ["--version"]));
    add("`dfget --help`", wallTime(runner, "dfget", ["--help"]));
    const dataDir = join(work, `${runner.name.replace(/\W/g, "")}-manager-${run}`);
    add("manager to `/healthy`, fresh data directory", await manager(runner, dataDir));
    add("manager to `/healthy`, existing data directory", await manager(runner, dataDir));
    add("scheduler to `/healthy`", await scheduler(runner));
    add("dfdaemon to `/healthy`", await dfdaemon(runner, join(work, `${runner.name.replace(/\W/g, "")}-peer-${run}`)));
  }
  for (const [what, values] of results) {
    console.log(`| ${runner.name} | ${what} | ${ms(median(values))} | ${ms(Math.min(...values))} |`);
  }
}

const size = statSync(BINARY).size;
console.log(`Binary: ${BINARY}, ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes)`);
console.log(`Runs: ${RUNS} per figure; a machine with ${navigator.hardwareConcurrency} cores\n`);
console.log("| Run as | Start-up | Median | Best |");
console.log("|---|---|---|---|");
await measure(COMPILED);
if (WITH_SOURCE) await measure(SOURCE);
