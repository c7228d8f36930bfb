/**
 * Pieces relayed while they arrive: with an origin that sends most pieces slowly, peers take pieces from the seed
 * (and from each other) while the seed is still receiving them, instead of a whole piece time later.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { randomFile, type OriginFile } from "../helpers/origin.ts";
import { metric, runCli, sha256File, tempDir } from "../helpers/processes.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);

let cluster: Cluster;
let out: string;
let file: OriginFile;
let sent = 0;
let server: ReturnType<typeof Bun.serve>;

/** An origin that sends the first piece (and the one-byte stat) at once and every later range slowly. */
function startSlowOrigin(): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const size = file.data.length;
      const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      const start = match ? Number(match[1]) : 0;
      const end = match?.[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
      const body = file.data.subarray(start, end + 1);
      const headers = { "content-length": String(body.length), ...(match ? { "content-range": `bytes ${start}-${end}/${size}` } : {}) };
      const status = match ? 206 : 200;
      if (start < 4 * MIB) {
        sent += body.length;
        return new Response(body as Uint8Array<ArrayBuffer>, { status, headers });
      }
      let at = 0;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (at >= body.length) return controller.close();
          await Bun.sleep(15);
          const chunk = body.subarray(at, at + 64 * 1024);
          at += chunk.length;
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      return new Response(stream, { status, headers });
    },
  });
}

beforeAll(async () => {
  file = randomFile(24 * MIB);
  server = startSlowOrigin();
  out = tempDir("libellula-streamed-");
  cluster = await startCluster({ peers: 2 });
});

afterAll(async () => {
  await cluster?.stop();
  await server?.stop(true);
});

test("peers take pieces the seed is still receiving, and every output is intact", async () => {
  const url = `http://127.0.0.1:${server.port}/slow.bin`;
  const results = await Promise.all(cluster.peers.map((peer, i) => runCli("dfget", [url, "-O", join(out, `slow-${i}`), "-e", peer.socket])));
  for (const result of results) expect(result.stderr).toBe("");
  for (let i = 0; i < cluster.peers.length; i++) expect(await sha256File(join(out, `slow-${i}`))).toBe(file.sha256);
  expect(sent / file.data.length).toBeLessThanOrEqual(1.1);
  const streamed = async (port: number, direction: string) => metric(port, "libellula_streamed_pieces_total", { direction });
  let received = 0;
  for (const peer of cluster.peers) received += await streamed(peer.metricsPort, "download");
  expect(received).toBeGreaterThan(0);
  let served = await streamed(cluster.seed.metricsPort, "upload");
  for (const peer of cluster.peers) served += await streamed(peer.metricsPort, "upload");
  expect(served).toBe(received);
});
