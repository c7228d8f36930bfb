/**
 * `npm start`, the README's "run the main job" command, run for real: `npm` from PATH in the repository,
 * inside a fresh network namespace with only loopback up (the cluster's fixed ports cannot clash with the
 * host or with other tests), its data in a temporary LIBELLULA_CLUSTER_DIR. The banner's instructions are
 * followed as a user would, then a Ctrl-C goes to the whole process group as a terminal sends it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { deleteNamespace, inNs } from "../../bench/lib/netns.ts";
import { commandLine, run, type RunResult } from "../../bench/lib/proc.ts";
import { ROOT, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

/** The manager's first start initialises PGlite, which takes a while on a busy machine. */
const BANNER_TIMEOUT_MS = 90_000;
/** Bound on a stop after Ctrl-C; the daemons stop in well under a second, this only catches a hang. */
const STOP_TIMEOUT_MS = 30_000;
const BANNER_END = "Press Ctrl-C to stop everything.";
/** Every port the cluster listens on. */
const CLUSTER_PORTS = [8090, 8080, 65003, 8002, 8000, 4000, 4001, 4002, 4003, 4005, 4100, 4101, 4102, 4103, 4105];

const namespaces: string[] = [];
const dirs: string[] = [];
let counter = 0;

/** Creates a namespace with only loopback up; answers why it cannot when `ip netns` is not permitted. */
async function createNamespace(): Promise<{ ns: string } | { unavailable: string }> {
  const ns = `libellula-npmstart-${process.pid}-${counter++}`;
  let added: RunResult;
  try {
    added = await run(["ip", "netns", "add", ns]);
  } catch (error) {
    return { unavailable: `cannot run "ip": ${String(error)}` };
  }
  if (added.code !== 0) {
    if (/not permitted|permission denied/i.test(added.stderr)) return { unavailable: added.stderr.trim() };
    throw new Error(`Cannot create network namespace "${ns}": ${added.stderr.trim()}`);
  }
  namespaces.push(ns);
  const up = await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  if (up.code !== 0) throw new Error(`Cannot bring up loopback in "${ns}": ${up.stderr.trim()}`);
  return { ns };
}

/** A namespace for one test (created by the probe below for the first test). */
async function namespace(): Promise<string> {
  const created = await createNamespace();
  if ("unavailable" in created) throw new Error(`ip netns stopped working: ${created.unavailable}`);
  return created.ns;
}

const probe = await createNamespace();
const unavailable = "unavailable" in probe ? probe.unavailable : undefined;
if (unavailable) console.warn(`Skipping the npm start tests: network namespaces are not permitted here (${unavailable})`);
let probeNs = "ns" in probe ? probe.ns : undefined;
/** The namespace made by the probe for the first test, then fresh ones. */
async function freshNamespace(): Promise<string> {
  const ns = probeNs ?? (await namespace());
  probeNs = undefined;
  return ns;
}

afterAll(async () => {
  for (const ns of namespaces) await deleteNamespace(ns);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A running `npm start` in its own process group, as a shell starts a foreground job. */
interface NpmStart {
  process: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function npmStart(ns: string, clusterDir: string): NpmStart {
  // npm start runs `npm ci` first when node_modules is stale, and the namespace has no route to the registry.
  const marker = join(ROOT, "node_modules", ".package-lock.json");
  if (!existsSync(marker) || statSync(join(ROOT, "package-lock.json")).mtimeMs > statSync(marker).mtimeMs) {
    throw new Error("node_modules is older than package-lock.json; run `npm ci` first (npm test does)");
  }
  const env: Record<string, string | undefined> = { ...process.env, LIBELLULA_CLUSTER_DIR: clusterDir };
  delete env.LIBELLULA_INITIAL_ROOT_PASSWORD;
  const child = spawn("ip", ["netns", "exec", ns, "npm", "start"], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { process: child, output: () => output, exited };
}

/** Waits for the banner; fails with everything printed when npm exits first. */
async function waitBanner(cluster: NpmStart): Promise<string> {
  let gone = false;
  void cluster.exited.then(() => (gone = true));
  await waitFor(() => cluster.output().includes(BANNER_END) || gone, "the cluster's banner", BANNER_TIMEOUT_MS).catch((error) => {
    throw new Error(`${String(error)}; npm start printed:\n${cluster.output()}`);
  });
  if (!cluster.output().includes(BANNER_END)) throw new Error(`npm start exited before its banner:\n${cluster.output()}`);
  return cluster.output();
}

/** Waits for npm to exit, within STOP_TIMEOUT_MS. */
async function waitExit(cluster: NpmStart): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS, "timeout").unref());
  const result = await Promise.race([cluster.exited, timeout]);
  if (result === "timeout") throw new Error(`npm start did not exit within ${STOP_TIMEOUT_MS / 1000} s; it printed:\n${cluster.output()}`);
  return result;
}

/** Runs a shell command line inside `ns` from the repository root, as a user in a second terminal. */
function shell(ns: string, command: string): Promise<RunResult> {
  return run(inNs(ns, ["bash", "-c", command]), { cwd: ROOT });
}

/** Processes left in `ns`, with their command lines. */
async function processesIn(ns: string): Promise<string[]> {
  const pids = (await run(["ip", "netns", "pids", ns])).stdout.split("\n").filter((line) => /^\d+$/.test(line.trim()));
  return pids.map((pid) => `${pid.trim()} ${commandLine(Number(pid))}`);
}

/** Ports of CLUSTER_PORTS something listens on inside `ns`. */
async function listeningPorts(ns: string): Promise<number[]> {
  const ss = await run(inNs(ns, ["ss", "-ltnH"]));
  expect(ss.code).toBe(0);
  const ports = ss.stdout
    .split("\n")
    .map((line) => Number(/:(\d+)\s/.exec(line)?.[1]))
    .filter((port) => Number.isInteger(port));
  return ports.filter((port) => CLUSTER_PORTS.includes(port));
}

/** The line of the banner's "Try:" list that starts with `prefix`. */
function tryLine(banner: string, prefix: string): string {
  const line = banner.split("\n").map((l) => l.trim()).find((l) => l.startsWith(prefix));
  if (!line) throw new Error(`The banner has no "${prefix}" line:\n${banner}`);
  return line;
}

describe.skipIf(unavailable !== undefined)("npm start", () => {
  test("starts the cluster, serves what its banner shows, and a Ctrl-C stops everything with exit code 0", async () => {
    const ns = await freshNamespace();
    const dir = tempDir("libellula-npm-start-");
    dirs.push(dir);
    const cluster = npmStart(ns, dir);
    const banner = await waitBanner(cluster);

    // The banner names the data directory and the sample file, which exists there.
    expect(banner).toContain(`data and logs in ${dir}/`);
    const sample = join(dir, "files", "sample.bin");
    expect(statSync(sample).size).toBe(64 * 1024 * 1024);
    const sampleDigest = await sha256File(sample);

    // dfget through the peer's socket, as printed (only the output path changed).
    const dfget = tryLine(banner, "bin/dfget ");
    expect(dfget).toContain(`-e ${join(dir, "peer", "dfdaemon.sock")}`);
    const viaDfget = join(dir, "via-dfget.bin");
    const got = await shell(ns, dfget.replace(/-O \S+/, `-O ${viaDfget}`));
    expect(got).toMatchObject({ code: 0 });
    expect(await sha256File(viaDfget)).toBe(sampleDigest);

    // The peer's metrics count the download.
    const metrics = await shell(ns, tryLine(banner, "curl -s http://127.0.0.1:4102/metrics"));
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toMatch(/^libellula_download_traffic/m);

    // curl through the peer's proxy as a P2P task, as printed (only the output path changed).
    const viaProxy = join(dir, "via-proxy.bin");
    const proxied = await shell(ns, `${tryLine(banner, "curl -x ").replace(/-o \S+/, `-o ${viaProxy}`)} -w '%{http_code}'`);
    expect(proxied).toMatchObject({ code: 0, stdout: "200" });
    expect(await sha256File(viaProxy)).toBe(sampleDigest);

    // The manager and its console.
    const healthy = await shell(ns, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthy");
    expect(healthy.stdout).toBe("200");
    const index = await shell(ns, "curl -s -w '\\n%{http_code} %{content_type}' http://127.0.0.1:8080/");
    expect(index.stdout).toMatch(/\n200 text\/html/);
    expect(index.stdout.toLowerCase()).toContain("<!doctype html>");

    // Sign in as root with the printed password; a wrong one is refused.
    const password = /sign in as "root" with password "([^"]+)"/.exec(banner)?.[1];
    expect(password).toBeDefined();
    const signin = (pw: string) =>
      shell(ns, `curl -s -w '\\n%{http_code}' -X POST http://127.0.0.1:8080/api/v1/users/signin -H 'content-type: application/json' -d '${JSON.stringify({ name: "root", password: pw })}'`);
    const signedIn = await signin(password!);
    expect(signedIn.stdout).toMatch(/\n200$/);
    const token = (JSON.parse(signedIn.stdout.slice(0, signedIn.stdout.lastIndexOf("\n"))) as { token?: string }).token;
    expect(token).toBeString();
    expect((await signin(`${password}-wrong`)).stdout).toMatch(/\n401$/);
    // With the token, the manager lists the cluster's scheduler.
    const schedulers = await waitFor(async () => {
      const listed = await shell(ns, `curl -s -H 'Authorization: Bearer ${token}' http://127.0.0.1:8080/api/v1/schedulers`);
      const list = JSON.parse(listed.stdout) as { ip?: string; port?: number }[];
      return list.length > 0 ? list : undefined;
    }, "the scheduler in the manager's list");
    expect(schedulers.some((s) => s.ip === "127.0.0.1" && s.port === 8002)).toBe(true);

    // Ctrl-C: SIGINT to the whole foreground process group.
    expect(await listeningPorts(ns)).toEqual(expect.arrayContaining(CLUSTER_PORTS));
    process.kill(-cluster.process.pid!, "SIGINT");
    const exit = await waitExit(cluster);
    expect({ exit, output: cluster.output().slice(cluster.output().indexOf(BANNER_END)) }).toMatchObject({ exit: { code: 0, signal: null } });
    for (const name of ["peer", "seed-peer", "scheduler", "manager"]) expect(cluster.output()).toContain(`  stopped ${name}\n`);
    expect(await processesIn(ns)).toEqual([]);
    expect(await listeningPorts(ns)).toEqual([]);
    // Logs went to the chosen directory, not to the repository's .cluster/.
    expect(existsSync(join(dir, "logs", "manager.log"))).toBe(true);
  }, 150_000);

  test("a daemon that dies stops the cluster, and npm start exits non-zero naming it", async () => {
    const ns = await freshNamespace();
    const dir = tempDir("libellula-npm-start-");
    dirs.push(dir);
    const cluster = npmStart(ns, dir);
    await waitBanner(cluster);
    // The peer's health port belongs to its dfdaemon; kill that process as a crash would.
    const ss = await run(inNs(ns, ["ss", "-ltnpH", "sport = :4103"]));
    const pid = Number(/pid=(\d+)/.exec(ss.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    const exit = await waitExit(cluster);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(cluster.output()).toContain("peer exited (SIGKILL)");
    expect(await processesIn(ns)).toEqual([]);
    expect(await listeningPorts(ns)).toEqual([]);
  }, 120_000);

  test("a port already in use makes npm start exit non-zero naming the port", async () => {
    const ns = await freshNamespace();
    const dir = tempDir("libellula-npm-start-");
    dirs.push(dir);
    const holder = spawn("ip", ["netns", "exec", ns, "node", "-e", "require('node:net').createServer().listen(8090, '127.0.0.1', () => console.log('listening'))"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      let ready = false;
      holder.stdout!.on("data", () => (ready = true));
      await waitFor(() => ready, "a listener on 8090");
      const cluster = npmStart(ns, dir);
      const exit = await waitExit(cluster);
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBeNull();
      expect(cluster.output()).toContain("Port 8090 is already in use");
      // Nothing of the cluster started.
      expect(await listeningPorts(ns)).toEqual([8090]);
    } finally {
      holder.kill("SIGKILL");
    }
  }, 60_000);
});
