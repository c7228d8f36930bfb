/**
 * `npm run build`'s executable, copied alone into an empty directory and run with an environment that holds no
 * Node, Bun or node_modules, runs the whole system: the manager on embedded PGlite with its console, a scheduler
 * registered with it, a seed peer and a peer that find the scheduler through it, dfget and dfcache.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildCommit, COMMAND_LINKS } from "../../scripts/build.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, metric, ROOT, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);

const PASSWORD = "binary-root-password-1234";
/** 2026-01-01T00:00:00Z: the build date the test build embeds. */
const SOURCE_DATE_EPOCH = "1767225600";
const MIB = 1024 * 1024;

/** Where the build writes; removed at the end with the copy (they hold 130 MiB each). */
let build: string;
/** The folder holding only the copied binary and its command symlinks. */
let install: string;
/** Working directory and HOME of every process: outside the repository. */
let home: string;
/** The environment every process gets: PATH is the install folder alone. */
let env: Record<string, string>;
/** The commit the build embedded. */
let commit: string;
const running: { name: string; child: ChildProcess; output: () => string }[] = [];

/** Runs a command of the installed binary by name, through PATH, to completion. */
function run(command: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: home, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a daemon of the installed binary and waits for the JSON log line whose msg matches `ready`. */
async function start(command: string, args: string[], ready: RegExp, timeoutMs = 90_000) {
  const child = spawn(command, args, { cwd: home, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const entry = { name: command, child, output: () => output };
  running.push(entry);
  const readyLine = (line: string) => {
    try {
      const msg = (JSON.parse(line) as { msg?: unknown }).msg;
      return typeof msg === "string" && ready.test(msg);
    } catch {
      return false;
    }
  };
  await waitFor(
    () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${command} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
      }
      return output.split("\n").some(readyLine);
    },
    `${command} to log ${ready}`,
    timeoutMs,
  );
  return entry;
}

/** Stops a daemon with SIGTERM (SIGKILL after 15 s); resolves with its exit code. */
async function stop(entry: { child: ChildProcess }): Promise<number | null> {
  const { child } = entry;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const code = await exited;
  clearTimeout(timer);
  running.splice(running.indexOf(entry as (typeof running)[number]), 1);
  return code;
}

beforeAll(() => {
  build = tempDir("libellula-build-");
  const built = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), [join(ROOT, "scripts", "build.ts"), "--outdir", build], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, SOURCE_DATE_EPOCH, LIBELLULA_BUILD_COMMIT: "" },
  });
  if (built.status !== 0) throw new Error(`The build failed:\n${built.stdout}\n${built.stderr}`);
  // The commit the build embedded, as it reported it (git's HEAD may move while other work is committed).
  commit = built.stdout.match(/\(commit (\S+), /)?.[1] ?? "";
  // Only the binary and relative symlinks to it, so the folder can be copied as it is.
  expect(readdirSync(build).sort()).toEqual(["libellula", ...COMMAND_LINKS].sort());
  const base = tempDir("libellula-installed-");
  install = join(base, "bin");
  home = join(base, "home");
  mkdirSync(install);
  mkdirSync(home);
  copyFileSync(join(build, "libellula"), join(install, "libellula"));
  for (const name of COMMAND_LINKS) {
    expect(lstatSync(join(build, name)).isSymbolicLink()).toBe(true);
    symlinkSync(readlinkSync(join(build, name)), join(install, name));
  }
  // Nothing to fall back on: no node_modules above the binary or the working directory, no node or bun on PATH.
  for (const start of [install, home]) {
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) expect(existsSync(join(dir, "node_modules"))).toBe(false);
  }
  expect(readdirSync(install).filter((name) => /^(node|bun|deno|npx?)$/.test(name))).toEqual([]);
  env = { PATH: install, HOME: home, LIBELLULA_INITIAL_ROOT_PASSWORD: PASSWORD };
});

afterAll(async () => {
  await Promise.all([...running].reverse().map((entry) => stop(entry)));
  for (const dir of [build, install && dirname(install)]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the compiled binary", () => {
  test("every command prints the version, the commit and the build date", async () => {
    // A commit of this repository, the way buildCommit() reads it, unless the checkout has no git.
    expect(commit).toMatch(/^([0-9a-f]{12}(-dirty)?|unknown)$/);
    expect(buildCommit()).toMatch(/^([0-9a-f]{12}(-dirty)?|unknown)$/);
    if (commit !== "unknown") expect(spawnSync("git", ["cat-file", "-e", `${commit.replace(/-dirty$/, "")}^{commit}`], { cwd: ROOT }).status).toBe(0);
    const line = (name: string) => `${name} 0.1.0 (commit ${commit}, built 2026-01-01T00:00:00Z)\n`;
    for (const name of COMMAND_LINKS) {
      const direct = await run(name, ["--version"]);
      expect(direct).toEqual({ code: 0, stdout: line(name), stderr: "" });
      const dispatched = await run("libellula", [name, "--version"]);
      expect(dispatched).toEqual({ code: 0, stdout: line(name), stderr: "" });
    }
    expect((await run("libellula", ["--version"])).stdout).toBe(line("libellula"));
    expect((await run("dfcache", ["version"])).stdout).toBe(line("dfcache"));
    expect((await run("dfget", ["-V"])).stdout).toBe(line("dfget"));
  });

  test("the build's commit comes from LIBELLULA_BUILD_COMMIT, else git, else is unknown", async () => {
    const saved = process.env.LIBELLULA_BUILD_COMMIT;
    const outsideGit = tempDir("libellula-nogit-");
    try {
      process.env.LIBELLULA_BUILD_COMMIT = "release-1.2.3";
      expect(buildCommit()).toBe("release-1.2.3");
      delete process.env.LIBELLULA_BUILD_COMMIT;
      // A copy of the build script outside any git checkout.
      const copy = join(outsideGit, "scripts", "build.ts");
      mkdirSync(dirname(copy));
      copyFileSync(join(ROOT, "scripts", "build.ts"), copy);
      expect(spawnSync("git", ["rev-parse", "HEAD"], { cwd: dirname(copy) }).status).not.toBe(0);
      const { buildCommit: outside } = (await import(copy)) as typeof import("../../scripts/build.ts");
      expect(outside()).toBe("unknown");
    } finally {
      rmSync(outsideGit, { recursive: true, force: true });
      if (saved === undefined) delete process.env.LIBELLULA_BUILD_COMMIT;
      else process.env.LIBELLULA_BUILD_COMMIT = saved;
    }
  });

  test("the build refuses unknown arguments and a malformed SOURCE_DATE_EPOCH before building", () => {
    const script = join(ROOT, "scripts", "build.ts");
    const bun = join(ROOT, "node_modules", ".bin", "bun");
    const unknown = spawnSync(bun, [script, "--out", "x"], { cwd: ROOT, encoding: "utf8" });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('Unknown arguments "--out x"');
    const epoch = spawnSync(bun, [script, "--outdir", join(home, "never")], { cwd: ROOT, encoding: "utf8", env: { ...process.env, SOURCE_DATE_EPOCH: "yesterday" } });
    expect(epoch.status).toBe(2);
    expect(epoch.stderr).toContain('Invalid SOURCE_DATE_EPOCH "yesterday"');
    expect(existsSync(join(home, "never"))).toBe(false);
  });

  test("an unknown command is refused with the list of commands", async () => {
    const unknown = await run("libellula", ["bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "bogus"');
    expect(unknown.stderr).toContain("dfdaemon");
    const bare = await run("libellula", []);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toContain("Usage: libellula <command>");
  });

  describe("runs a cluster", () => {
    let managerUrl: string;
    let managerGrpc: string;
    let origin: Origin;
    const peers: { socket: string; metricsPort: number }[] = [];

    beforeAll(() => {
      origin = startOrigin();
    });

    afterAll(async () => {
      await origin?.stop();
    });

    async function signIn(): Promise<string> {
      const response = await fetch(`${managerUrl}/api/v1/users/signin`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "root", password: PASSWORD }),
      });
      expect(response.status).toBe(200);
      const token = ((await response.json()) as { token?: unknown }).token;
      expect(typeof token).toBe("string");
      return token as string;
    }

    test("the manager migrates embedded PGlite, signs root in, serves the console and keeps its data over a restart", async () => {
      const [http, grpc] = [await freePort(), await freePort()];
      const dataDir = join(home, "manager");
      const args = ["--port", String(http), "--grpc-port", String(grpc), "--data-dir", dataDir];
      managerUrl = `http://127.0.0.1:${http}`;
      managerGrpc = `127.0.0.1:${grpc}`;
      const first = await start("manager", args, /^Listening$/);
      expect(first.output()).toContain('"msg":"Applied migrations"');
      expect(first.output()).toContain('"database":"pglite"');
      expect((await fetch(`${managerUrl}/healthy`)).status).toBe(200);
      await signIn();
      const page = await fetch(`${managerUrl}/clusters`, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      const html = await page.text();
      const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${managerUrl}${script}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toContain("javascript");
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      expect(await stop(first)).toBe(0);

      // The same data directory again: no migration to apply, the root account still there.
      const second = await start("manager", args, /^Listening$/);
      expect(second.output()).not.toContain('"msg":"Created the root account"');
      await signIn();
    });

    test("a scheduler, a seed peer and a peer run from it, and dfget downloads through them", async () => {
      expect(managerGrpc).toBeDefined();
      const schedulerPort = await freePort();
      const scheduler = await start(
        "scheduler",
        [
          "--server.listenIP", "127.0.0.1", "--server.advertiseIP", "127.0.0.1", "--server.port", String(schedulerPort),
          "--metrics.server.port", "0", "--manager.addr", managerGrpc, "--manager.keepAlive.interval", "1s",
        ],
        /^Scheduler listening$/,
      );
      await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 60_000);
      const token = await signIn();
      const schedulers = await fetch(`${managerUrl}/api/v1/schedulers`, { headers: { authorization: `Bearer ${token}` } });
      expect(JSON.stringify(await schedulers.json())).toContain(`"port":${schedulerPort}`);

      for (const [name, seed] of [["bseed", true], ["bpeer", false]] as const) {
        const dir = join(home, name);
        const socket = join(dir, "dfdaemon.sock");
        const [upload, vortex, health, metrics, proxy] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
        await start(
          "dfdaemon",
          [
            "--host.ip", "127.0.0.1", "--host.hostname", name,
            "--upload.server.ip", "127.0.0.1", "--upload.server.port", String(upload),
            "--storage.server.ip", "127.0.0.1", "--storage.server.tcpPort", String(vortex),
            "--storage.dir", join(dir, "storage"), "--download.server.socketPath", socket,
            "--health.server.port", String(health), "--metrics.server.port", String(metrics),
            "--proxy.server.ip", "127.0.0.1", "--proxy.server.port", String(proxy),
            "--seedPeer.enable", String(seed), "--manager.addr", managerGrpc,
          ],
          /^dfdaemon ready$/,
        );
        expect((await fetch(`http://127.0.0.1:${health}/healthy`)).status).toBe(200);
        peers.push({ socket, metricsPort: metrics });
      }
      const [seed, peer] = peers as [(typeof peers)[number], (typeof peers)[number]];

      const file = origin.add("/binary.bin", randomFile(9 * MIB + 17).data);
      const out = join(home, "downloaded.bin");
      const result = await run("dfget", [origin.url("/binary.bin"), "-O", out, "-e", peer.socket]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(await sha256File(out)).toBe(file.sha256);
      // The seed fetched it from the origin once (a probe of a few bytes aside); the peer got every byte from the seed.
      expect(origin.sent("/binary.bin")).toBeLessThan(2 * file.data.length);
      expect(await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" })).toBe(file.data.length);
      expect(await metric(seed.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" })).toBe(file.data.length);
    });

    test("dfcache imports on the peer and exports from the seed", async () => {
      const [seed, peer] = peers as [(typeof peers)[number], (typeof peers)[number]];
      expect(peer).toBeDefined();
      const file = randomFile(5 * MIB + 3);
      const path = join(home, "cached.bin");
      writeFileSync(path, file.data);
      const imported = await run("dfcache", ["import", path, "--persistent-replica-count", "2", "--ttl", "10m", "-e", peer.socket]);
      expect(imported.stderr).toBe("");
      expect(imported.code).toBe(0);
      const id = imported.stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const out = join(home, "exported.bin");
      const exported = await run("dfcache", ["export", id, "-O", out, "-e", seed.socket]);
      expect(exported.stderr).toBe("");
      expect(exported.code).toBe(0);
      expect(await sha256File(out)).toBe(file.sha256);
    });
  });
});
