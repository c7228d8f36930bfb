import { afterAll, expect, test } from "bun:test";
import { createHttpSource, RangeNotSupported } from "./http.ts";

const body = new TextEncoder().encode("0123456789abcdef");
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/nolength") return new Response(new ReadableStream({ start(c) { c.enqueue(body); c.close(); } }));
    if (path === "/norange") return new Response(body);
    if (path === "/401") return new Response("need auth", { status: 401, headers: { "www-authenticate": "Bearer realm=x" } });
    const range = request.headers.get("range");
    if (range) {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(range)!;
      return new Response(body.subarray(Number(a), Number(b) + 1), { status: 206, headers: { "content-range": `bytes ${a}-${b}/${body.length}` } });
    }
    return new Response(body);
  },
});
afterAll(() => server.stop(true));
const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;
const source = createHttpSource();

test("stat() reads the size from Content-Range of a one-byte GET", async () => {
  const stat = await source.stat({ url: url("/f"), header: {} });
  expect(stat.contentLength).toBe(16);
});

test("stat() falls back to Content-Length when ranges are ignored", async () => {
  expect((await source.stat({ url: url("/norange"), header: {} })).contentLength).toBe(16);
});

test("get() reads a range", async () => {
  const result = await source.get({ url: url("/f"), header: {}, range: { start: 4, length: 3 } });
  expect(await new Response(result.body).text()).toBe("456");
});

test("get() refuses a range answered with the whole object", async () => {
  expect(source.get({ url: url("/norange"), header: {}, range: { start: 4, length: 3 } })).rejects.toBeInstanceOf(RangeNotSupported);
});

test("an origin error carries its status and headers", async () => {
  const error = await source.stat({ url: url("/401"), header: {} }).catch((e) => e);
  expect(error.statusCode).toBe(401);
  expect(error.header["www-authenticate"]).toBe("Bearer realm=x");
  expect(error.message).toBe(`Origin "${url("/401")}" answered 401 Unauthorized: need auth`);
});
