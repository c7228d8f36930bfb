/**
 * The bench origin: serves one file over HTTP with Range support and counts the body bytes it
 * actually hands to the socket. Runs as its own process (inside the origin's namespace in bench/p2p);
 * the bench reads and resets the counters over a unix socket, which crosses namespaces because it
 * lives on the shared filesystem.
 *
 *   bun bench/lib/origin-server.ts --file PATH --path /blob --hostname IP --port N --control SOCK
 */
import { parseFlags } from "./args.ts";
import { parseRange } from "./range.ts";

const flags = parseFlags(process.argv.slice(2), {
  file: { help: "file to serve" },
  path: { help: "URL path of the file", default: "/blob" },
  hostname: { help: "IP to listen on", default: "127.0.0.1" },
  port: { help: "TCP port (0 picks a free one)", default: "0" },
  control: { help: "unix socket for /stats and /reset" },
});
if (!flags.file || !flags.control) throw new Error(`Flags "--file" and "--control" are required`);

const file = Bun.file(flags.file);
const size = file.size;
const lastModified = new Date(file.lastModified).toUTCString();
const etag = `"${size.toString(16)}-${Math.floor(file.lastModified).toString(16)}"`;

/** Counters since start or the last reset. */
const stats = {
  bytesSent: 0,
  requests: 0,
  getRequests: 0,
  rangeRequests: 0,
  headRequests: 0,
  byClient: {} as Record<string, number>,
};

function reset(): void {
  Object.assign(stats, { bytesSent: 0, requests: 0, getRequests: 0, rangeRequests: 0, headRequests: 0, byClient: {} });
}

/** Body of `[start, end)` that counts each chunk as it is handed on towards the socket. */
function countedBody(start: number, end: number, client: string): ReadableStream<Uint8Array> {
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      stats.bytesSent += chunk.byteLength;
      stats.byClient[client] = (stats.byClient[client] ?? 0) + chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return file.slice(start, end).stream().pipeThrough(counter);
}

const server = Bun.serve({
  hostname: flags.hostname,
  port: Number(flags.port),
  idleTimeout: 0,
  fetch(request, srv) {
    const url = new URL(request.url);
    if (url.pathname === "/healthy") return new Response("ok");
    if (url.pathname !== flags.path) return new Response("not found", { status: 404 });
    if (request.method !== "GET" && request.method !== "HEAD") return new Response("method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    const client = srv.requestIP(request)?.address ?? "unknown";
    const rangeHeader = request.headers.get("range");
    stats.requests++;
    const headers = new Headers({
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
      "last-modified": lastModified,
      etag,
    });
    const range = rangeHeader === null ? null : parseRange(rangeHeader, size);
    console.log(`${new Date().toISOString()} ${client} ${request.method} ${url.pathname} range=${rangeHeader ?? "-"}`);
    if (range === "unsatisfiable") {
      headers.set("content-range", `bytes */${size}`);
      return new Response("range not satisfiable", { status: 416, headers });
    }
    const [start, end] = range ?? [0, size];
    headers.set("content-length", String(end - start));
    if (range) headers.set("content-range", `bytes ${start}-${end - 1}/${size}`);
    const status = range ? 206 : 200;
    if (request.method === "HEAD") {
      stats.headRequests++;
      return new Response(null, { status, headers });
    }
    stats.getRequests++;
    if (range) stats.rangeRequests++;
    return new Response(countedBody(start, end, client), { status, headers });
  },
});

const control = Bun.serve({
  unix: flags.control,
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/stats") return Response.json({ ...stats, port: server.port, size });
    if (url.pathname === "/reset" && request.method === "POST") {
      reset();
      return Response.json({ ok: true });
    }
    return new Response("not found", { status: 404 });
  },
});

console.log(`origin serving ${flags.file} (${size} bytes) at http://${flags.hostname}:${server.port}${flags.path}`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void server.stop(true);
    void control.stop(true);
    process.exit(0);
  });
}
