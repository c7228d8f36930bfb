import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTraffic } from "./cluster.ts";
import { makeRandomFile, sha256File } from "./files.ts";
import { startOrigin, type Origin } from "./origin.ts";

const SIZE = 3 * 1024 * 1024 + 17;
let dir: string;
let origin: Origin;
let sha: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "libellula-bench-origin-test-"));
  sha = await makeRandomFile(join(dir, "blob"), SIZE);
  origin = await startOrigin({ file: join(dir, "blob"), hostname: "127.0.0.1", port: 0, controlSocket: join(dir, "control.sock"), logFile: join(dir, "origin.log") });
});

afterAll(async () => {
  await origin.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("bench origin", () => {
  test("makeRandomFile() returns the sha256 of what it wrote", async () => {
    expect(await sha256File(join(dir, "blob"))).toBe(sha);
  });

  test("a full GET returns the file and counts every byte", async () => {
    await origin.reset();
    const body = new Uint8Array(await (await fetch(origin.url)).arrayBuffer());
    expect(new Bun.CryptoHasher("sha256").update(body).digest("hex")).toBe(sha);
    const stats = await origin.stats();
    expect(stats.bytesSent).toBe(SIZE);
    expect(stats.getRequests).toBe(1);
  });

  test("a ranged GET returns 206 with Content-Range and counts only the range", async () => {
    await origin.reset();
    const response = await fetch(origin.url, { headers: { range: "bytes=100-1123" } });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 100-1123/${SIZE}`);
    const whole = new Uint8Array(await Bun.file(join(dir, "blob")).arrayBuffer());
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(whole.subarray(100, 1124));
    expect((await origin.stats()).bytesSent).toBe(1024);
  });

  test("HEAD sends no body and a range past the end is 416", async () => {
    await origin.reset();
    const head = await fetch(origin.url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(SIZE));
    const past = await fetch(origin.url, { headers: { range: `bytes=${SIZE}-` } });
    expect(past.status).toBe(416);
    expect((await origin.stats()).bytesSent).toBe(0);
  });

  test("other paths are 404", async () => {
    expect((await fetch(origin.url.replace("/blob", "/nope"))).status).toBe(404);
  });
});

describe("parseTraffic()", () => {
  test("sums download bytes by type and upload bytes", () => {
    const text = [
      "# TYPE libellula_download_traffic_bytes_total counter",
      'libellula_download_traffic_bytes_total{type="back_to_source"} 100',
      'libellula_download_traffic_bytes_total{task="x",type="remote_peer"} 40',
      'libellula_download_traffic_bytes_total{type="remote_peer",task="y"} 2',
      "libellula_upload_traffic_bytes_total 77",
    ].join("\n");
    expect(parseTraffic(text)).toEqual({ backToSource: 100, remotePeer: 42, localPeer: 0, uploaded: 77 });
  });
});
