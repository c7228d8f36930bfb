/**
 * Bad input to the proxy beyond test/e2e/proxy.test.ts: an origin that resets in the middle of a P2P task,
 * request framing the HTTP parser must refuse, absurd Range and registry headers. Every time the client gets an
 * error status or a cut connection, and afterwards the daemon serves as before with no task, socket or file
 * left open.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { startOrigin, type Origin } from "../helpers/origin.ts";
import { metric, waitFor } from "../helpers/processes.ts";
import { run } from "../helpers/registry.ts";

setDefaultTimeout(120_000);

const MIB = 1024 * 1024;
/** Three 4 MiB pieces. */
const SIZE = 12 * MIB;

function byteAt(i: number): number {
  return (i * 31 + 7) % 251;
}

/**
 * An origin over raw TCP that answers HEAD and the first piece properly, and for any later range sends the
 * headers and half a megabyte, then resets the connection.
 */
function resettingOrigin(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const request = head;
      head = "";
      const method = request.split(" ")[0];
      const range = /\r\nrange:\s*bytes=(\d+)-(\d*)/i.exec(request);
      const start = range ? Number(range[1]) : 0;
      const end = range && range[2] ? Math.min(Number(range[2]), SIZE - 1) : SIZE - 1;
      const length = end - start + 1;
      const status = range ? "206 Partial Content" : "200 OK";
      const contentRange = range ? `Content-Range: bytes ${start}-${end}/${SIZE}\r\n` : "";
      socket.write(`HTTP/1.1 ${status}\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n${contentRange}Content-Length: ${length}\r\n\r\n`);
      if (method === "HEAD") return;
      const sendable = start < 4 * MIB ? length : Math.min(length, MIB / 2);
      const body = Buffer.alloc(sendable);
      for (let i = 0; i < sendable; i++) body[i] = byteAt(start + i);
      socket.write(body);
      if (sendable < length) setTimeout(() => socket.resetAndDestroy(), 20);
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port, sockets })));
}

/** Sends raw bytes to a port and resolves with everything read until the server closes (or 10 s pass). */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on("data", (c) => (out += c.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(data);
  });
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

let resetting: Awaited<ReturnType<typeof resettingOrigin>>;
let origin: Origin;
let peer: PeerDaemon;

beforeAll(async () => {
  resetting = await resettingOrigin();
  origin = startOrigin();
  origin.add("/v2/ok/blobs/sha256:0001", new Uint8Array(5 * MIB).fill(3));
  origin.add("/plain.txt", new TextEncoder().encode("still serving\n"));
  peer = await spawnPeer({ name: "proxy-bad" });
});

afterAll(async () => {
  await peer?.kill();
  await origin?.stop();
  for (const socket of resetting?.sockets ?? []) socket.destroy();
  resetting?.server.close();
});

describe("bad input to the proxy", () => {
  test("an origin resetting in the middle of a P2P task: the client's connection is cut short, nothing is left behind", async () => {
    const pid = peer.process.pid!;
    // Warm up the paths that open long-lived descriptors, so the baseline counts them.
    expect((await run("curl", ["-sS", "-f", "-o", "/dev/null", "-x", `http://127.0.0.1:${peer.proxyPort}`, origin.url("/v2/ok/blobs/sha256:0001")])).code).toBe(0);
    const baseline = openFds(pid);
    const url = `http://127.0.0.1:${resetting.port}/v2/cut/blobs/sha256:0002`;
    for (let i = 0; i < 3; i++) {
      const cut = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-x", `http://127.0.0.1:${peer.proxyPort}`, url]);
      // 18: the body ended short of Content-Length; 52: no reply; 56: reset. Never a complete-looking answer.
      expect([18, 52, 56]).toContain(cut.code!);
      const downloaded = Number(cut.stdout.split(" ")[1] ?? 0);
      expect(downloaded).toBeLessThan(SIZE);
    }
    await waitFor(async () => (await metric(peer.metricsPort, "libellula_active_tasks")) === 0, "no task to be downloading");
    const ok = await run("curl", ["-sS", "-f", "-x", `http://127.0.0.1:${peer.proxyPort}`, origin.url("/plain.txt")]);
    expect(ok.stdout).toBe("still serving\n");
    await waitFor(() => openFds(pid) <= baseline + 2, `file descriptors of dfdaemon to return to ${baseline}`);
  });

  test("request framing the parser must refuse gets 400 or 431 and a closed connection", async () => {
    const port = peer.proxyPort;
    const target = origin.url("/plain.txt");
    const cases = [
      // Both framings at once: a classic request-smuggling shape.
      `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      // Two different lengths.
      `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd`,
      // A control character inside a header value.
      `GET ${target} HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n`,
      // A header without a name.
      `GET ${target} HTTP/1.1\r\nHost: x\r\n: nameless\r\n\r\n`,
      // A request line of 100 KiB.
      `GET ${target}?${"q".repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      // Thousands of headers, together past the head limit.
      `GET ${target} HTTP/1.1\r\nHost: x\r\n${"X-Many: 1\r\n".repeat(4000)}\r\n`,
      // A protocol version that does not exist.
      `GET ${target} HTTP/7.3\r\nHost: x\r\n\r\n`,
    ];
    for (const request of cases) {
      const response = await raw(port, request);
      expect([400, 431]).toContain(statusOf(response));
      expect(response.toLowerCase()).toContain("x-dragonfly-error-type: proxy");
      expect(response.toLowerCase()).toContain("connection: close");
    }
    const ok = await run("curl", ["-sS", "-f", "-x", `http://127.0.0.1:${port}`, target]);
    expect(ok.stdout).toBe("still serving\n");
  });

  test("absurd Range and registry headers get a clear answer", async () => {
    const proxy = `http://127.0.0.1:${peer.proxyPort}`;
    const blob = origin.url("/v2/ok/blobs/sha256:0001");
    const size = 5 * MIB;
    const curl = async (...args: string[]) => {
      const result = await run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-x", proxy, ...args, blob]);
      return { status: statusOf(result.stdout), head: result.stdout.toLowerCase() };
    };
    // Past any safe integer: unsatisfiable, with the length in Content-Range.
    const huge = await curl("-H", "Range: bytes=99999999999999999999999-");
    expect(huge.status).toBe(416);
    expect(huge.head).toContain(`content-range: bytes */${size}`);
    expect(huge.head).toContain("x-dragonfly-error-type: proxy");
    // Past the end: 416 too.
    expect((await curl("-H", `Range: bytes=${size}-`)).status).toBe(416);
    // Unusable or several ranges: ignored, the whole blob with 200 (RFC 9110 lets a server do that).
    for (const range of ["bytes=9-2", "bytes=0-1,5-9", "pages=1-2", "bytes=--1"]) {
      const whole = await curl("-H", `Range: ${range}`);
      expect(whole.status).toBe(200);
      expect(whole.head).toContain(`content-length: ${size}`);
    }
    // A registry mirror request naming an upstream that is no URL, or not http(s).
    for (const registry of ["not a url", "ftp://127.0.0.1/"]) {
      const result = await run("curl", ["-sS", "-H", `X-Dragonfly-Registry: ${registry}`, "-w", "\n%{http_code}", `${proxy}/v2/ok/blobs/sha256:0001`]);
      const [body, status] = result.stdout.split("\n");
      expect(status).toBe("400");
      expect(body).toContain("Invalid registry");
    }
  });
});
