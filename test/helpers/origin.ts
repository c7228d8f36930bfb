/** A real HTTP origin for tests: serves generated files with Range support and counts the bytes it sends. */
import { createHash, randomBytes } from "node:crypto";

/** A file the origin serves. */
export interface OriginFile {
  data: Uint8Array;
  sha256: string;
}

/** A running origin. */
export interface Origin extends AsyncDisposable {
  url(path: string): string;
  /** Body bytes sent, per path. */
  sent(path: string): number;
  /** Requests received, per path. */
  requests(path: string): number;
  add(path: string, data: Uint8Array): OriginFile;
  /** Makes a path answer with a status (e.g. 404, 500). */
  fail(path: string, status: number): void;
  /** Every request's headers, per path. */
  headers(path: string): Headers[];
  stop(): Promise<void>;
}

/** Random bytes and their sha256. */
export function randomFile(size: number): OriginFile {
  const data = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) data.set(randomBytes(Math.min(65536, size - offset)), offset);
  return { data, sha256: createHash("sha256").update(data).digest("hex") };
}

/** Starts an origin on 127.0.0.1 with a free port. */
export function startOrigin(options: { ranges?: boolean } = {}): Origin {
  const files = new Map<string, OriginFile>();
  const failures = new Map<string, number>();
  const sentBytes = new Map<string, number>();
  const requestCounts = new Map<string, number>();
  const requestHeaders = new Map<string, Headers[]>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      requestCounts.set(path, (requestCounts.get(path) ?? 0) + 1);
      requestHeaders.set(path, [...(requestHeaders.get(path) ?? []), request.headers]);
      const status = failures.get(path);
      if (status) return new Response(`failure ${status} for ${path}`, { status });
      const file = files.get(path);
      if (!file) return new Response("not found", { status: 404 });
      const size = file.data.length;
      const range = request.headers.get("range");
      let body = file.data;
      let responseStatus = 200;
      const headers: Record<string, string> = { "content-type": "application/octet-stream", etag: `"${file.sha256.slice(0, 16)}"` };
      if (range && options.ranges !== false) {
        const match = /^bytes=(\d+)-(\d*)$/.exec(range);
        const start = Number(match?.[1] ?? 0);
        const end = match?.[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
        if (!match || start >= size) return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
        body = file.data.subarray(start, end + 1);
        responseStatus = 206;
        headers["content-range"] = `bytes ${start}-${end}/${size}`;
      }
      if (request.method !== "HEAD") sentBytes.set(path, (sentBytes.get(path) ?? 0) + body.length);
      return new Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { status: responseStatus, headers: { ...headers, "content-length": String(body.length) } });
    },
  });
  const stop = async () => {
    await server.stop(true);
  };
  return {
    url: (path) => `http://127.0.0.1:${server.port}${path}`,
    sent: (path) => sentBytes.get(path) ?? 0,
    requests: (path) => requestCounts.get(path) ?? 0,
    headers: (path) => requestHeaders.get(path) ?? [],
    add(path, data) {
      const file = { data, sha256: createHash("sha256").update(data).digest("hex") };
      files.set(path, file);
      return file;
    },
    fail: (path, status) => void failures.set(path, status),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
