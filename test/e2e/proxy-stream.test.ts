/**
 * How the proxy streams P2P tasks: the first bytes reach the client while later pieces are still downloading
 * (the origin holds back every piece but the first until the test lets them go), and a Range request with
 * prefetch fetches the whole task in the background after the client has its bytes.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { metric, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(120_000);

const MIB = 1024 * 1024;
/** Dragonfly's smallest piece; blobs of a few pieces get exactly this length. */
const PIECE = 4 * MIB;

interface Blob {
  data: Uint8Array;
  sha256: string;
}

function blob(size: number): Blob {
  const data = new Uint8Array(randomBytes(size));
  return { data, sha256: createHash("sha256").update(data).digest("hex") };
}

/**
 * An origin whose ranged answers from `PIECE` on wait for `release()`; it counts the body bytes it has sent per
 * path and which ranges were asked for.
 */
function gatedOrigin(files: Record<string, Blob>) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const sent = new Map<string, number>();
  const held = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const file = files[path];
      if (!file) return new Response("not found", { status: 404 });
      const size = file.data.length;
      const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      let start = 0;
      let end = size - 1;
      if (match) {
        start = Number(match[1]);
        end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
      }
      if (start >= PIECE) {
        held.set(path, (held.get(path) ?? 0) + 1);
        await gate;
      }
      const body = file.data.subarray(start, end + 1);
      if (request.method !== "HEAD") sent.set(path, (sent.get(path) ?? 0) + body.length);
      const headers: Record<string, string> = { "content-type": "application/octet-stream", "accept-ranges": "bytes" };
      if (match) headers["content-range"] = `bytes ${start}-${end}/${size}`;
      return new Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), {
        status: match ? 206 : 200,
        headers: { ...headers, "content-length": String(body.length) },
      });
    },
  });
  return {
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    sent: (path: string) => sent.get(path) ?? 0,
    held: (path: string) => held.get(path) ?? 0,
    release: () => open(),
    stop: () => server.stop(true),
  };
}

const streamed = blob(5 * PIECE);
const ranged = blob(5 * PIECE + 12345);
let origin: ReturnType<typeof gatedOrigin>;
let peer: PeerDaemon;

beforeAll(async () => {
  origin = gatedOrigin({ "/v2/app/blobs/sha256:stream": streamed, "/v2/app/blobs/sha256:ranged": ranged });
  peer = await spawnPeer({ name: "proxy-stream" });
});

afterAll(async () => {
  origin?.release();
  await peer?.kill();
  await origin?.stop();
});

describe("the proxy streams P2P tasks", () => {
  test("the first piece reaches the client while the origin still holds back the others", async () => {
    const path = "/v2/app/blobs/sha256:stream";
    // Without streaming nothing (not even the response head) arrives until the gate opens, which happens only
    // below: fail clearly instead of hanging.
    let received = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Only ${received} bytes reached the client while the origin held back the later pieces`)), 60_000);
    });
    const response = await Promise.race([fetch(origin.url(path), { proxy: `http://127.0.0.1:${peer.proxyPort}` } as RequestInit), stuck]);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(streamed.data.length));
    expect(response.headers.get("x-dragonfly-task-id")).toMatch(/^[0-9a-f]{64}$/);
    const reader = response.body!.getReader();
    const hash = createHash("sha256");
    while (received < PIECE) {
      const { value, done } = await Promise.race([reader.read(), stuck]);
      if (done) throw new Error(`Body ended after ${received} bytes`);
      hash.update(value);
      received += value.length;
    }
    clearTimeout(timer);
    // The whole first piece is here; the peer has asked for the later ones, and the origin has sent none of them.
    await waitFor(() => origin.held(path) >= 1, "the peer to ask the origin for a later piece");
    expect(origin.sent(path)).toBeLessThanOrEqual(PIECE + 1);
    origin.release();
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      hash.update(value);
      received += value.length;
    }
    expect(received).toBe(streamed.data.length);
    expect(hash.digest("hex")).toBe(streamed.sha256);
  });

  test("a Range request with X-Dragonfly-Prefetch gets 206 at once and the whole task follows in the background", async () => {
    origin.release();
    const path = "/v2/app/blobs/sha256:ranged";
    const response = await fetch(origin.url(path), {
      proxy: `http://127.0.0.1:${peer.proxyPort}`,
      headers: { range: "bytes=100-1123", "x-dragonfly-prefetch": "true" },
    } as RequestInit);
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 100-1123/${ranged.data.length}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(ranged.data.subarray(100, 1124)))).toBe(0);
    // The client is gone; the rest of the task still comes in, once.
    await waitFor(() => origin.sent(path) >= ranged.data.length, "the whole task to be fetched in the background", 60_000);
    expect(origin.sent(path)).toBeLessThanOrEqual(ranged.data.length + 16);

    // Now every range is served from the peer's storage, the last piece's tail included.
    const before = origin.sent(path);
    const tail = await fetch(origin.url(path), {
      proxy: `http://127.0.0.1:${peer.proxyPort}`,
      headers: { range: "bytes=-12345" },
    } as RequestInit);
    expect(tail.status).toBe(206);
    const tailBytes = new Uint8Array(await tail.arrayBuffer());
    expect(createHash("sha256").update(tailBytes).digest("hex")).toBe(
      createHash("sha256").update(ranged.data.subarray(ranged.data.length - 12345)).digest("hex"),
    );
    expect(origin.sent(path)).toBe(before);
    expect(await metric(peer.metricsPort, "libellula_proxy_requests_total", { type: "p2p" })).toBeGreaterThanOrEqual(3);
  });
});
