/**
 * What every dfdaemon process must offer operators (issue 2): /healthy, Prometheus /metrics with bytes by
 * traffic type, pieces and active tasks, and a clean exit on SIGTERM; and dfget's progress bar, drawn on a
 * terminal only.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { metric, ROOT, runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(120_000);
const MIB = 1024 * 1024;
let origin: Origin;
let peer: PeerDaemon;

/** The ops port: /healthy and /metrics answer on the health and metrics ports. */
function healthPort(daemon: PeerDaemon): number {
  const port = Number(daemon.ready.healthPort);
  if (!(port > 0)) throw new Error(`dfdaemon's ready line has no health port: ${JSON.stringify(daemon.ready)}`);
  return port;
}

/** Runs a command under a pseudo-terminal (util-linux `script`), so its stderr is a TTY. */
function onTerminal(command: string[]): Promise<{ code: number | null; output: string }> {
  const quoted = command.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", quoted, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, COLUMNS: "120" } });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.once("exit", (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  origin = startOrigin();
  peer = await spawnPeer({ name: "opspeer" });
});

afterAll(async () => {
  await peer?.kill();
  await origin?.stop();
});

test("dfdaemon answers /healthy and exports bytes by traffic type, pieces and active tasks", async () => {
  const health = await fetch(`http://127.0.0.1:${healthPort(peer)}/healthy`);
  expect(health.status).toBe(200);
  const before = await (await fetch(`http://127.0.0.1:${peer.metricsPort}/metrics`)).text();
  for (const family of ["libellula_download_traffic_bytes_total", "libellula_download_pieces_total", "libellula_active_tasks"]) {
    expect(before).toContain(`# TYPE ${family}`);
  }
  const file = origin.add("/ops/file.bin", randomFile(9 * MIB).data);
  const out = join(tempDir(), "file.bin");
  const result = await runCli("dfget", [origin.url("/ops/file.bin"), "-O", out, "-e", peer.socket]);
  expect(result.code).toBe(0);
  expect(await sha256File(out)).toBe(file.sha256);
  expect(await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" })).toBe(file.data.length);
  // 9 MiB in 4 MiB pieces.
  expect(await metric(peer.metricsPort, "libellula_download_pieces_total")).toBeGreaterThanOrEqual(3);
  await waitFor(async () => (await metric(peer.metricsPort, "libellula_active_tasks")) === 0, "no active task after the download");
});

test("dfget draws a progress bar on a terminal, and none when piped or with --no-progress", async () => {
  const file = origin.add("/ops/progress.bin", randomFile(6 * MIB).data);
  const url = origin.url("/ops/progress.bin");
  const dir = tempDir();
  const dfget = join(ROOT, "bin", "dfget");

  const drawn = await onTerminal([dfget, url, "-O", join(dir, "tty.bin"), "-e", peer.socket]);
  expect(drawn.code).toBe(0);
  expect(drawn.output).toContain("Downloading");
  expect(drawn.output).toMatch(/100% /);
  expect(await sha256File(join(dir, "tty.bin"))).toBe(file.sha256);

  const quiet = await onTerminal([dfget, url, "-O", join(dir, "quiet.bin"), "-e", peer.socket, "--no-progress"]);
  expect(quiet.code).toBe(0);
  expect(quiet.output).not.toContain("Downloading");
  expect(quiet.output).not.toContain("%");

  const piped = await runCli("dfget", [url, "-O", join(dir, "piped.bin"), "-e", peer.socket]);
  expect(piped.code).toBe(0);
  expect(piped.stderr).toBe("");
  expect(piped.stdout).not.toContain("Downloading");
});

test("dfdaemon stops cleanly on SIGTERM: exit code 0, its ports closed and its socket gone", async () => {
  const own = await spawnPeer({ name: "opsstop" });
  const port = healthPort(own);
  expect((await fetch(`http://127.0.0.1:${port}/healthy`)).status).toBe(200);
  expect(existsSync(own.socket)).toBe(true);
  expect(await own.kill("SIGTERM")).toBe(0);
  expect(await fetch(`http://127.0.0.1:${port}/healthy`).then(() => "answered", () => "refused")).toBe("refused");
  expect(existsSync(own.socket)).toBe(false);
});
