/**
 * Ranged GETs of plain-http origins over a bare TCP socket: HTTP/1.1, one request per connection, the body
 * handed on in the socket's own chunks. Back-to-source pieces are the seed peer's hottest path, and fetch()
 * costs several times the CPU per byte of a socket read (measured under Bun: about 8 against 2 CPU seconds per
 * GiB in a daemon). Anything this path does not expect (a redirect, an error status, a chunked or encoded body, a
 * proxy in the environment, credentials in the URL) is left to fetch() by answering `undefined` before a byte of
 * the body is taken.
 */
import type { Socket } from "bun";
import { SourceError, errorMessage } from "../../common/errors.ts";
import { redactUrl } from "./source.ts";

/** Longest status line and header block accepted. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Time allowed to connect and receive the response head. */
export const DEFAULT_HEAD_TIMEOUT_MS = 30_000;
/** Bytes queued in the body stream before the socket is paused. */
const BODY_HIGH_WATER_MARK = 4 * 1024 * 1024;

/** What a ranged GET answered. */
export interface RangeResponse {
  status: number;
  header: Record<string, string>;
  body: ReadableStream<Uint8Array>;
}

/** Decodes a `Transfer-Encoding: chunked` body without copying: data parts are subarrays of the input. */
export class ChunkedDecoder {
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private line = "";
  private left = 0;

  /** Whether the last chunk and its trailer section have been read. */
  get done(): boolean {
    return this.state === "done";
  }

  /** Feeds bytes; hands each piece of body data to `onData`; throws on malformed framing. */
  push(bytes: Uint8Array, onData: (data: Uint8Array) => void): void {
    let at = 0;
    while (at < bytes.length) {
      switch (this.state) {
        case "size":
        case "trailer":
        case "data-end": {
          const newline = bytes.indexOf(10, at);
          const end = newline < 0 ? bytes.length : newline;
          for (let i = at; i < end; i++) this.line += String.fromCharCode(bytes[i] as number);
          if (this.line.length > 4096) throw new Error("chunk framing line too long");
          at = newline < 0 ? bytes.length : newline + 1;
          if (newline < 0) break;
          const line = this.line.replace(/\r$/, "");
          this.line = "";
          if (this.state === "data-end") {
            if (line !== "") throw new Error("missing CRLF after chunk data");
            this.state = "size";
          } else if (this.state === "trailer") {
            if (line === "") this.state = "done";
          } else {
            const size = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line.trim());
            if (!size) throw new Error(`malformed chunk size "${line.slice(0, 40)}"`);
            this.left = Number.parseInt(size[1] as string, 16);
            this.state = this.left === 0 ? "trailer" : "data";
          }
          break;
        }
        case "data": {
          const take = Math.min(this.left, bytes.length - at);
          onData(take === bytes.length ? bytes : bytes.subarray(at, at + take));
          at += take;
          this.left -= take;
          if (this.left === 0) this.state = "data-end";
          break;
        }
        case "done":
          throw new Error("bytes after the last chunk");
      }
    }
  }
}

/** Whether a request may take the socket path: plain http, no credentials in the URL, no proxy configured. */
export function socketPathApplies(url: URL, env: Record<string, string | undefined> = process.env): boolean {
  if (url.protocol !== "http:" || url.username !== "" || url.password !== "") return false;
  return !["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"].some((name) => (env[name] ?? "") !== "");
}

interface Head {
  status: number;
  header: Record<string, string>;
  /** Body bytes that arrived with the head. */
  rest: Uint8Array;
}

const CRLFCRLF = [13, 10, 13, 10];

function findHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** Parses `HTTP/1.x <status> ...` and the header lines; throws on anything malformed. */
export function parseResponseHead(text: string): { status: number; header: Record<string, string> } {
  const lines = text.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
  if (!match) throw new Error(`malformed status line "${(lines[0] ?? "").slice(0, 80)}"`);
  const header: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed header line "${line.slice(0, 80)}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    header[name] = name in header ? `${header[name]}, ${value}` : value;
  }
  return { status: Number(match[1]), header };
}

/**
 * Sends `GET` for `range` with `headers` and resolves with a 206 response whose body is exactly that range, or
 * `undefined` when the origin answered anything else (the connection is then closed unread). Throws SourceError
 * when the origin cannot be reached; the body stream errors when the origin breaks the connection.
 */
export function rangedGet(
  url: URL,
  headers: Headers,
  range: { start: number; length: number },
  signal?: AbortSignal,
  headTimeoutMs = DEFAULT_HEAD_TIMEOUT_MS,
): Promise<RangeResponse | undefined> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const length = range.length;
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, `range: bytes=${range.start}-${range.start + length - 1}`];
  headers.forEach((value, name) => {
    if (name !== "host" && name !== "connection" && name !== "range") lines.push(`${name}: ${value}`);
  });
  if (!headers.has("accept")) lines.push("accept: */*");
  if (!headers.has("user-agent")) lines.push(`user-agent: ${navigator.userAgent}`);
  lines.push("connection: close", "", "");
  let request: Uint8Array | undefined = new TextEncoder().encode(lines.join("\r\n"));
  const where = `origin "${redactUrl(url.toString())}"`;

  return new Promise((resolve, reject) => {
    let socket: Socket<undefined> | undefined;
    let head: Uint8Array = new Uint8Array(0);
    let settled = false;
    /** The body stream once the head is parsed. */
    let body: ReadableStreamDefaultController<Uint8Array> | undefined;
    let remaining = length;
    let paused = false;
    let chunked: ChunkedDecoder | undefined;

    const timer = setTimeout(() => fail(new SourceError(`Cannot reach ${where}: no response within ${headTimeoutMs} ms`)), headTimeoutMs);
    const onAbort = () => {
      const reason = signal?.reason ?? new Error("aborted");
      if (body) {
        try {
          body.error(reason);
        } catch {
          // already closed
        }
      }
      fail(reason);
      socket?.terminate();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };

    function fail(error: unknown): void {
      if (settled) return;
      settled = true;
      cleanup();
      socket?.terminate();
      reject(error);
    }

    function decline(): void {
      if (settled) return;
      settled = true;
      cleanup();
      socket?.terminate();
      resolve(undefined);
    }

    function sendRequest(s: Socket<undefined>): void {
      while (request) {
        const written = s.write(request);
        if (written <= 0) return;
        request = written >= request.length ? undefined : request.subarray(written);
      }
    }

    function receive(chunk: Uint8Array): void {
      if (!chunked) return deliver(chunk);
      try {
        chunked.push(chunk, deliver);
      } catch (error) {
        broken(`Invalid chunked body from ${where}: ${errorMessage(error)}`);
      }
    }

    /** Errors the body stream and drops the connection. */
    function broken(message: string): void {
      cleanup();
      remaining = 0;
      try {
        body?.error(new SourceError(message));
      } catch {
        // already errored
      }
      socket?.terminate();
    }

    function deliver(chunk: Uint8Array): void {
      const controller = body as ReadableStreamDefaultController<Uint8Array>;
      if (chunk.length === 0 || remaining === 0) return;
      if (chunk.length > remaining) return broken(`${where} sent more than the ${length} bytes of the range`);
      remaining -= chunk.length;
      controller.enqueue(chunk);
      if (remaining === 0) {
        cleanup();
        controller.close();
        socket?.end();
        return;
      }
      if ((controller.desiredSize ?? 1) <= 0 && !paused) {
        paused = true;
        socket?.pause();
      }
    }

    function onHead(parsed: Head): void {
      const { status, header } = parsed;
      const encoding = (header["content-encoding"] ?? "identity").toLowerCase();
      const transfer = header["transfer-encoding"]?.toLowerCase();
      const framed = transfer === undefined ? Number(header["content-length"]) === length : transfer === "chunked";
      const contentRange = /^bytes (\d+)-(\d+)\//.exec(header["content-range"] ?? "");
      const exact = contentRange !== null && Number(contentRange[1]) === range.start && Number(contentRange[2]) === range.start + length - 1;
      if (status !== 206 || encoding !== "identity" || !framed || !exact) {
        decline();
        return;
      }
      if (transfer === "chunked") chunked = new ChunkedDecoder();
      settled = true;
      clearTimeout(timer);
      const stream = new ReadableStream<Uint8Array>(
        {
          start(controller) {
            body = controller;
          },
          pull() {
            if (paused) {
              paused = false;
              socket?.resume();
            }
          },
          cancel() {
            cleanup();
            socket?.terminate();
          },
        },
        { highWaterMark: BODY_HIGH_WATER_MARK, size: (chunk) => chunk?.length ?? 0 },
      );
      resolve({ status, header, body: stream });
      receive(parsed.rest);
    }

    Bun.connect<undefined>({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 80),
      socket: {
        open(s) {
          socket = s;
          if (settled) return void s.terminate();
          s.setNoDelay(true);
          sendRequest(s);
        },
        drain(s) {
          sendRequest(s);
        },
        data(_s, chunk) {
          if (body) return receive(chunk);
          if (settled) return;
          const joined = new Uint8Array(head.length + chunk.length);
          joined.set(head);
          joined.set(chunk, head.length);
          const end = findHeadEnd(joined, head.length);
          head = joined;
          if (end < 0) {
            if (head.length > MAX_HEAD_BYTES) fail(new SourceError(`Invalid response from ${where}: header block over ${MAX_HEAD_BYTES} bytes`));
            return;
          }
          let parsed: { status: number; header: Record<string, string> };
          try {
            parsed = parseResponseHead(new TextDecoder("latin1").decode(joined.subarray(0, end)));
          } catch (error) {
            fail(new SourceError(`Invalid response from ${where}: ${errorMessage(error)}`));
            return;
          }
          onHead({ ...parsed, rest: joined.subarray(end + CRLFCRLF.length) });
        },
        close(_s, error) {
          socket = undefined;
          if (body && remaining > 0) {
            cleanup();
            try {
              body.error(new SourceError(`${where} closed the connection with ${remaining} bytes of the range unsent${error ? `: ${errorMessage(error)}` : ""}`));
            } catch {
              // already errored
            }
            return;
          }
          fail(new SourceError(`Cannot reach ${where}: connection closed before a response${error ? `: ${errorMessage(error)}` : ""}`));
        },
        connectError(_s, error) {
          fail(new SourceError(`Cannot reach ${where}: ${errorMessage(error)}`, undefined, {}, { cause: error }));
        },
        error(_s, error) {
          if (body && remaining > 0) {
            try {
              body.error(new SourceError(`Cannot read from ${where}: ${errorMessage(error)}`));
            } catch {
              // already errored
            }
          }
          fail(new SourceError(`Cannot reach ${where}: ${errorMessage(error)}`, undefined, {}, { cause: error }));
        },
      },
    }).catch((error: unknown) => fail(new SourceError(`Cannot reach ${where}: ${errorMessage(error)}`, undefined, {}, { cause: error })));
  });
}
