/** `npm run build` makes one executable that runs every command, and its dfdaemon and dfget work. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { randomFile, startOrigin } from "../helpers/origin.ts";
import { freePort, ROOT, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(180_000);

test("the compiled binary runs dfdaemon and dfget", async () => {
  const dist = tempDir("libellula-dist-");
  const build = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), ["build", "--compile", join(ROOT, "src", "cli", "libellula.ts"), "--outfile", join(dist, "libellula")], { cwd: ROOT });
  expect(build.status).toBe(0);
  const binary = join(dist, "libellula");
  const version = spawnSync(binary, ["dfget", "--version"]);
  expect(version.stdout.toString()).toMatch(/^dfget \d+\.\d+\.\d+/);
  const unknown = spawnSync(binary, ["bogus"]);
  expect(unknown.status).toBe(2);
  expect(unknown.stderr.toString()).toContain('unknown command "bogus"');

  await using origin = startOrigin();
  const file = origin.add("/bin.bin", randomFile(9 * 1024 * 1024).data);
  const dir = tempDir("libellula-bin-");
  const socket = join(dir, "d.sock");
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const daemon = spawn(binary, [
    "dfdaemon", "--host.ip", "127.0.0.1", "--storage.dir", join(dir, "s"), "--download.server.socketPath", socket,
    "--upload.server.port", String(ports[0]), "--storage.server.tcpPort", String(ports[1]),
    "--health.server.port", String(ports[2]), "--metrics.server.port", String(ports[3]),
    "--proxy.server.port", String(ports[4]),
  ], { stdio: "ignore" });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ports[2]}/healthy`).catch(() => undefined))?.ok, "dfdaemon health");
    // Asynchronously: the origin runs in this process and must keep serving.
    const child = spawn(binary, ["dfget", origin.url("/bin.bin"), "-O", join(dir, "out"), "-e", socket]);
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(await sha256File(join(dir, "out"))).toBe(file.sha256);
  } finally {
    daemon.kill("SIGTERM");
  }
});
