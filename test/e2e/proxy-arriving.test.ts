/**
 * The proxy sends a piece's bytes as they land, before the piece is finished: with an origin that trickles the
 * first piece, the client holds its first bytes while most of that piece is still at the origin, for a whole GET
 * and for a Range inside the piece; a response's last byte waits until the piece it comes from is verified.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";

setDefaultTimeout(120_000);
const MIB = 1024 * 1024;
const PIECE = 4 * MIB;
const data = new Uint8Array(randomBytes(2 * PIECE));
const sha256 = createHash("sha256").update(data).digest("hex");

/** Body bytes the origin has handed out, per path. */
const sent = new Map<string, number>();
let server: ReturnType<typeof Bun.serve>;
let peer: PeerDaemon;

beforeAll(async () => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      const start = match ? Number(match[1]) : 0;
      const end = match?.[2] ? Math.min(Number(match[2]), data.length - 1) : data.length - 1;
      const body = data.subarray(start, end + 1);
      const init = { status: match ? 206 : 200, headers: { "content-length": String(body.length), ...(match ? { "content-range": `bytes ${start}-${end}/${data.length}` } : {}) } };
      // 64 KiB every 25 ms: a 4 MiB piece takes about 1.6 s to leave the origin.
      let at = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (at >= body.length) return controller.close();
            if (body.length > 1) await Bun.sleep(25);
            const chunk = body.subarray(at, at + 64 * 1024);
            at += chunk.length;
            sent.set(path, (sent.get(path) ?? 0) + chunk.length);
            controller.enqueue(chunk);
          },
        }),
        init,
      );
    },
  });
  peer = await spawnPeer({ name: "proxy-arriving", extra: ["--proxy.rules", JSON.stringify([{ regex: "trickle" }])] });
});

afterAll(async () => {
  await peer?.kill();
  await server?.stop(true);
});

const viaProxy = (path: string, headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${server.port}${path}`, { proxy: `http://127.0.0.1:${peer.proxyPort}`, headers } as RequestInit);

test("a whole GET gets its first bytes while most of the first piece is still at the origin", async () => {
  const path = "/trickle/whole.bin";
  const response = await viaProxy(path);
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const hash = createHash("sha256");
  const first = await reader.read();
  expect(first.done).toBe(false);
  hash.update(first.value!);
  // The piece has not left the origin yet: the bytes came as they landed on the peer.
  expect(sent.get(path) ?? 0).toBeLessThan(PIECE / 2);
  let received = first.value!.length;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    hash.update(value);
    received += value.length;
  }
  expect(received).toBe(data.length);
  expect(hash.digest("hex")).toBe(sha256);
});

test("a Range inside a piece still arriving gets all but its last byte from the bytes that landed; the last waits for the piece to be verified", async () => {
  const path = "/trickle/range.bin";
  const response = await viaProxy(path, { range: "bytes=300000-399999" });
  expect(response.status).toBe(206);
  expect(response.headers.get("content-range")).toBe(`bytes 300000-399999/${data.length}`);
  const reader = response.body!.getReader();
  const parts: Uint8Array[] = [];
  let received = 0;
  while (received < 100000 - 1) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Body ended after ${received} bytes`);
    parts.push(value);
    received += value.length;
  }
  // Everything but the last byte came while most of the piece was still at the origin.
  expect(received).toBe(100000 - 1);
  expect(sent.get(path) ?? 0).toBeLessThan(PIECE / 2);
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.length;
  }
  expect(Buffer.compare(Buffer.concat(parts), Buffer.from(data.subarray(300000, 400000)))).toBe(0);
  // The last byte left only once the whole piece was in and checked.
  expect(sent.get(path) ?? 0).toBeGreaterThanOrEqual(PIECE);
});
