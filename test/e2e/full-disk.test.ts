/**
 * A full disk, for real: the peer's storage is a 24 MiB tmpfs. A download that cannot fit is refused before a byte
 * is fetched; one that runs out of space midway fails with "disk full" and leaves no output file; the daemon keeps
 * serving, and once space is freed the same download completes, reusing the pieces it had stored.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, type OriginFile } from "../helpers/origin.ts";
import { metric, runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(120_000);
const MIB = 1024 * 1024;

const dir = tempDir("libellula-full-disk-");
const mount = join(dir, "storage");
const out = join(dir, "out");
mkdirSync(mount, { recursive: true });
/** Whether a tmpfs could be mounted here (root, or a container that allows it); the tests are skipped otherwise. */
const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mount]).status === 0;
if (!mounted) console.warn("full-disk tests skipped: cannot mount a tmpfs here (needs root)");
let peer: PeerDaemon | undefined;
let server: ReturnType<typeof Bun.serve> | undefined;
const files = new Map<string, OriginFile>();
let sent = 0;
/** While set, ranges past the first piece are sent slowly (64 KiB every 20 ms). */
let slow = false;

function startOrigin(): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const file = files.get(new URL(request.url).pathname);
      if (!file) return new Response("not found", { status: 404 });
      const size = file.data.length;
      const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      const start = match ? Number(match[1]) : 0;
      const end = match?.[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
      const body = file.data.subarray(start, end + 1);
      const init = { status: match ? 206 : 200, headers: { "content-length": String(body.length), ...(match ? { "content-range": `bytes ${start}-${end}/${size}` } : {}) } };
      if (!slow || start < 4 * MIB) {
        sent += body.length;
        return new Response(body as Uint8Array<ArrayBuffer>, init);
      }
      let at = 0;
      let cancelled = false;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (at >= body.length) return controller.close();
            await Bun.sleep(20);
            // A client that went away gets (and is counted for) nothing more.
            if (cancelled) return;
            const chunk = body.subarray(at, at + 64 * 1024);
            at += chunk.length;
            sent += chunk.length;
            controller.enqueue(chunk);
          },
          cancel() {
            cancelled = true;
          },
        }),
        init,
      );
    },
  });
}

beforeAll(async () => {
  mkdirSync(out, { recursive: true });
  if (!mounted) return;
  server = startOrigin();
  // No scheduler: the peer goes straight to the origin, so every byte it stores comes through this test's origin.
  peer = await spawnPeer({ name: "full-disk", extra: ["--storage.dir", mount] });
});

afterAll(async () => {
  await peer?.kill();
  await server?.stop(true);
  if (mounted) spawnSync("umount", ["-l", mount]);
  rmSync(dir, { recursive: true, force: true });
});

const url = (path: string) => `http://127.0.0.1:${server!.port}${path}`;

test.skipIf(!mounted)("a download larger than the free space is refused before any piece is fetched, naming both sizes", async () => {
  files.set("/big.bin", randomFile(40 * MIB));
  const before = sent;
  const output = join(out, "big.bin");
  const result = await runCli("dfget", [url("/big.bin"), "-O", output, "-e", peer!.socket, "--no-progress"]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/needs 41943040 bytes but only \d+ are free/);
  expect(existsSync(output)).toBe(false);
  // Only the one-byte stat reached the origin.
  expect(sent - before).toBeLessThanOrEqual(1);
});

test.skipIf(!mounted)("running out of space midway fails with disk full and no output; after freeing space the download completes from where it stopped", async () => {
  const file = randomFile(16 * MIB);
  files.set("/model.bin", file);
  const output = join(out, "model.bin");
  const filler = join(mount, "filler");
  slow = true;
  const running = runCli("dfget", [url("/model.bin"), "-O", output, "-e", peer!.socket, "--no-progress"]);
  // Once the first piece is stored, something else takes every free byte of the disk.
  await waitFor(async () => (await metric(peer!.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" })) >= 4 * MIB, "the first piece");
  const { bavail, bsize } = statfsSync(mount);
  try {
    writeFileSync(filler, new Uint8Array(Number(bavail) * Number(bsize)));
  } catch {
    // Filled to the last block: ENOSPC on the final bytes of the filler is the point.
  }
  const failed = await running;
  expect(failed.code).not.toBe(0);
  expect(failed.stderr).toMatch(/disk full/);
  expect(existsSync(output)).toBe(false);

  // Space comes back; the daemon still serves, and the task resumes from the pieces it kept.
  rmSync(filler, { force: true });
  slow = false;
  const fetched = () => metric(peer!.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" });
  const before = await fetched();
  const retried = await runCli("dfget", [url("/model.bin"), "-O", output, "-e", peer!.socket, "--no-progress"]);
  expect(retried.stderr).toBe("");
  expect(retried.code).toBe(0);
  expect(await sha256File(output)).toBe(file.sha256);
  // The first piece was kept: at most the other three were fetched again.
  expect((await fetched()) - before).toBeLessThanOrEqual(12 * MIB);
});
