import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { Socket } from "bun";
import { SourceError } from "../../common/errors.ts";
import { createHttpSource, RangeNotSupported } from "./http.ts";
import { ChunkedDecoder, parseResponseHead, rangedGet, socketPathApplies } from "./http-range.ts";

const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31 + (i >> 9)) % 251);
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Requests the origin saw, by path. */
const seen: { path: string; range: string | null; host: string | null }[] = [];

function slice(range: string | null): [number, number] | undefined {
  const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
  return match ? [Number(match[1]), Number(match[2]) + 1] : undefined;
}

let originPort = 0;
const origin = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request): Response {
    const path = new URL(request.url).pathname;
    const range = request.headers.get("range");
    seen.push({ path, range, host: request.headers.get("host") });
    const span = slice(range);
    if (path === "/redirect") return Response.redirect(`http://127.0.0.1:${originPort}/plain`, 302);
    if (path === "/whole") return new Response(data);
    if (path === "/missing") return new Response("no such object", { status: 404 });
    if (!span) return new Response("range required", { status: 400 });
    const [start, end] = span;
    const headers = { "content-range": `bytes ${start}-${end - 1}/${data.length}` };
    if (path === "/wrong-range") {
      return new Response(data.subarray(start + 1, end + 1), { status: 206, headers: { "content-range": `bytes ${start + 1}-${end}/${data.length}` } });
    }
    if (path === "/chunked") {
      // A stream body without a length goes out chunked, in small pieces.
      const body = data.subarray(start, end);
      return new Response(
        new ReadableStream({
          start(controller) {
            for (let at = 0; at < body.length; at += 100_003) controller.enqueue(body.slice(at, at + 100_003));
            controller.close();
          },
        }),
        { status: 206, headers },
      );
    }
    return new Response(data.subarray(start, end), { status: 206, headers });
  },
});

originPort = origin.port as number;

/** A raw origin that sends a correct head, then only part of the body, then closes. */
const truncating = Bun.listen<undefined>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(socket: Socket<undefined>) {
      socket.write("HTTP/1.1 206 Partial Content\r\ncontent-length: 1000\r\ncontent-range: bytes 0-999/5000\r\n\r\n");
      socket.write(new Uint8Array(300));
      socket.end();
    },
  },
});

afterAll(() => {
  origin.stop(true);
  truncating.stop(true);
});

const url = (path: string) => new URL(`http://127.0.0.1:${originPort}${path}`);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("ChunkedDecoder", () => {
  const encoded = new TextEncoder().encode("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n");

  test("decodes a body fed one byte at a time, extensions and trailers included", () => {
    const decoder = new ChunkedDecoder();
    const parts: number[] = [];
    for (let i = 0; i < encoded.length; i++) decoder.push(encoded.subarray(i, i + 1), (part) => parts.push(...part));
    expect(new TextDecoder().decode(new Uint8Array(parts))).toBe("hello world");
    expect(decoder.done).toBe(true);
  });

  test("hands data on as views of the input, without copies", () => {
    const decoder = new ChunkedDecoder();
    const views: Uint8Array[] = [];
    decoder.push(encoded, (part) => views.push(part));
    expect(views.every((view) => view.buffer === encoded.buffer)).toBe(true);
  });

  test("refuses a malformed chunk size and data without its CRLF", () => {
    expect(() => new ChunkedDecoder().push(new TextEncoder().encode("zz\r\n"), () => {})).toThrow(/malformed chunk size "zz"/);
    expect(() => new ChunkedDecoder().push(new TextEncoder().encode("2\r\nabXY\r\n"), () => {})).toThrow(/missing CRLF/);
  });
});

describe("rangedGet", () => {
  test("reads a range answered with Content-Length, byte for byte", async () => {
    const response = await rangedGet(url("/plain"), new Headers({ "x-custom": "yes" }), { start: 1000, length: 2 * 1024 * 1024 });
    expect(response?.status).toBe(206);
    expect(sha(await readAll(response!.body))).toBe(sha(data.subarray(1000, 1000 + 2 * 1024 * 1024)));
    expect(seen.at(-1)).toEqual({ path: "/plain", range: `bytes=1000-${1000 + 2 * 1024 * 1024 - 1}`, host: `127.0.0.1:${originPort}` });
  });

  test("reads a range the origin sends chunked", async () => {
    const response = await rangedGet(url("/chunked"), new Headers(), { start: 17, length: data.length - 17 });
    expect(sha(await readAll(response!.body))).toBe(sha(data.subarray(17)));
  });

  test("declines redirects, errors, whole-object answers and a Content-Range other than the one asked", async () => {
    for (const path of ["/redirect", "/missing", "/whole", "/wrong-range"]) {
      expect(await rangedGet(url(path), new Headers(), { start: 0, length: 10 })).toBeUndefined();
    }
  });

  test("a body cut short errors the stream with the bytes missing", async () => {
    const response = await rangedGet(new URL(`http://127.0.0.1:${truncating.port}/x`), new Headers(), { start: 0, length: 1000 });
    await expect(readAll(response!.body)).rejects.toThrow(/closed the connection with 700 bytes of the range unsent/);
  });

  test("an origin that refuses connections is a SourceError", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    await expect(rangedGet(new URL(`http://127.0.0.1:${port}/x`), new Headers(), { start: 0, length: 1 })).rejects.toBeInstanceOf(SourceError);
  });

  test("an abort stops the request", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop now"));
    await expect(rangedGet(url("/plain"), new Headers(), { start: 0, length: 1 }, controller.signal)).rejects.toThrow("stop now");
  });
});

describe("the http source with socket ranges", () => {
  const source = createHttpSource();

  test("get() of a range goes over the socket and returns the bytes", async () => {
    const result = await source.get({ url: url("/chunked").toString(), header: {}, range: { start: 5, length: 1_000_000 } });
    expect(result.statusCode).toBe(206);
    expect(sha(await readAll(result.body))).toBe(sha(data.subarray(5, 1_000_005)));
  });

  test("a redirect falls back to fetch, which follows it", async () => {
    const before = seen.length;
    const result = await source.get({ url: url("/redirect").toString(), header: {}, range: { start: 0, length: 100 } });
    expect(sha(await readAll(result.body))).toBe(sha(data.subarray(0, 100)));
    expect(seen.slice(before).map((request) => request.path)).toEqual(["/redirect", "/redirect", "/plain"]);
  });

  test("a whole-object answer still ends in RangeNotSupported and an error status in the origin's message", async () => {
    await expect(source.get({ url: url("/whole").toString(), header: {}, range: { start: 0, length: 10 } })).rejects.toBeInstanceOf(RangeNotSupported);
    await expect(source.get({ url: url("/missing").toString(), header: {}, range: { start: 0, length: 10 } })).rejects.toThrow(/answered 404.*no such object/);
  });
});

test("parseResponseHead() reads the status and folds repeated headers", () => {
  expect(parseResponseHead("HTTP/1.1 206 Partial Content\r\nA: 1\r\nb:2\r\na: 3")).toEqual({ status: 206, header: { a: "1, 3", b: "2" } });
  expect(() => parseResponseHead("HTTP/2 200")).toThrow(/malformed status line/);
});

test("socketPathApplies() leaves https, credentials and proxies to fetch", () => {
  expect(socketPathApplies(new URL("http://h/x"), {})).toBe(true);
  expect(socketPathApplies(new URL("https://h/x"), {})).toBe(false);
  expect(socketPathApplies(new URL("http://u:p@h/x"), {})).toBe(false);
  expect(socketPathApplies(new URL("http://h/x"), { HTTP_PROXY: "http://proxy:3128" })).toBe(false);
});
