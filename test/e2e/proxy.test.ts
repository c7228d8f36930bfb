/**
 * The proxy against real sockets: HTTPS interception with a configured CA, plain CONNECT tunnels, streaming
 * request bodies, flat memory on a large P2P response, proxy basic auth, and bad input that must leave the
 * daemon serving without leaking connections or files.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { join } from "node:path";
import { generateCa } from "../../src/peer/proxy/certificates.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, metric, tempDir, waitFor } from "../helpers/processes.ts";
import { run, selfSignedCertificate } from "../helpers/registry.ts";

setDefaultTimeout(120_000);

const MIB = 1024 * 1024;

let origin: Origin;
let tlsOrigin: ReturnType<typeof Bun.serve>;
let resetting: Server;
let peer: PeerDaemon;
let guarded: PeerDaemon;
let dir: string;
let caPath: string;
const blob = randomFile(128 * MIB);
const secureBlob = randomFile(5 * MIB);

/** Sends raw bytes to a port and resolves with everything read until the server closes (or 5 s pass). */
function raw(port: number, data: string | Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on("data", (c) => (out += c.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(data);
  });
}

/** Sends a request and hangs up as soon as the response starts. */
function hangUp(port: number, data: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = 0;
    socket.on("data", (c) => {
      received += c.length;
      socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(received));
    socket.write(data);
  });
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

beforeAll(async () => {
  dir = tempDir("libellula-proxy-");
  origin = startOrigin();
  origin.add("/v2/lib/blobs/sha256:0001", blob.data);
  origin.add("/plain.txt", new TextEncoder().encode("plain text through the proxy\n"));

  const originCert = selfSignedCertificate("localhost", { dns: ["localhost"] }, true);
  writeFileSync(join(dir, "origin.pem"), originCert.certPem);
  tlsOrigin = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: originCert.certPem, key: originCert.keyPem },
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/echo") {
        const hash = createHash("sha256");
        let size = 0;
        for await (const chunk of request.body ?? []) {
          hash.update(chunk);
          size += chunk.length;
        }
        return Response.json({ sha256: hash.digest("hex"), size, method: request.method });
      }
      if (path !== "/v2/secure/blobs/sha256:0002") return new Response("not found", { status: 404 });
      const range = /bytes=(\d+)-(\d+)/.exec(request.headers.get("range") ?? "");
      if (!range) return new Response(secureBlob.data as Uint8Array<ArrayBuffer>);
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), secureBlob.data.length - 1);
      return new Response(secureBlob.data.subarray(start, end + 1) as Uint8Array<ArrayBuffer>, {
        status: 206,
        headers: { "content-range": `bytes ${start}-${end}/${secureBlob.data.length}` },
      });
    },
  });

  // An origin that promises a megabyte and hangs up after a kilobyte.
  resetting = createServer((socket) => {
    socket.once("data", () => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nContent-Type: application/octet-stream\r\n\r\n");
      socket.write(Buffer.alloc(1024, 7));
      setImmediate(() => socket.resetAndDestroy());
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => resetting.listen(0, "127.0.0.1", resolve));

  const ca = generateCa("Libellula test CA");
  caPath = join(dir, "ca.crt");
  writeFileSync(caPath, ca.certPem);
  writeFileSync(join(dir, "ca.key"), ca.keyPem);
  peer = await spawnPeer({
    name: "proxy1",
    extra: [
      "--proxy.server.caCert", caPath,
      "--proxy.server.caKey", join(dir, "ca.key"),
      "--proxy.hijackHTTPS.hosts", JSON.stringify([{ regex: "^localhost:", certs: [join(dir, "origin.pem")] }]),
      "--proxy.readBufferSize", "64KiB",
    ],
  });
  guarded = await spawnPeer({ name: "proxy2", extra: ["--proxy.server.basicAuth", JSON.stringify({ username: "ops", password: "s3cret" })] });
});

afterAll(async () => {
  await peer?.kill();
  await guarded?.kill();
  await origin?.stop();
  await tlsOrigin?.stop(true);
  resetting?.close();
});

describe("dfdaemon's proxy", () => {
  test("intercepts HTTPS for matching hosts with the configured CA and serves blobs through P2P", async () => {
    const url = `https://localhost:${tlsOrigin.port}/v2/secure/blobs/sha256:0002`;
    const proxy = `http://127.0.0.1:${peer.proxyPort}`;
    const result = await run("sh", ["-c", `curl -sS -f --cacert ${caPath} -x ${proxy} -D ${join(dir, "h")} '${url}' | sha256sum`]);
    expect(result.stderr).toBe("");
    expect(result.stdout.split(" ")[0]).toBe(secureBlob.sha256);
    expect(readFileSync(join(dir, "h"), "utf8").toLowerCase()).toContain("x-dragonfly-task-id:");
    expect(await metric(peer.metricsPort, "libellula_proxy_connect_total", { intercepted: "true" })).toBeGreaterThanOrEqual(1);
    // A request body crosses the intercepted tunnel as a stream.
    const body = randomFile(3 * MIB);
    writeFileSync(join(dir, "body"), body.data);
    const echo = await run("curl", ["-sS", "-f", "--cacert", caPath, "-x", proxy, "--data-binary", `@${join(dir, "body")}`, `https://localhost:${tlsOrigin.port}/echo`]);
    expect(JSON.parse(echo.stdout)).toEqual({ sha256: body.sha256, size: body.data.length, method: "POST" });
  });

  test("tunnels CONNECT untouched for other hosts", async () => {
    const result = await run("curl", ["-sS", "-k", "-x", `http://127.0.0.1:${peer.proxyPort}`, "-D", "-", `https://127.0.0.1:${tlsOrigin.port}/v2/secure/blobs/sha256:0002`, "-o", "/dev/null"]);
    expect(result.stdout).toContain("200");
    // The origin's own answer: no task header, since nothing was intercepted.
    expect(result.stdout.toLowerCase()).not.toContain("x-dragonfly-task-id");
    expect(await metric(peer.metricsPort, "libellula_proxy_connect_total", { intercepted: "false" })).toBeGreaterThanOrEqual(1);
  });

  // Memory use is measured by bench/throughput, not asserted here: RSS on a shared machine is too noisy.
  test("streams a large P2P response and forwards other requests with their status and headers", async () => {
    const response = await fetch(origin.url("/v2/lib/blobs/sha256:0001"), { proxy: `http://127.0.0.1:${peer.proxyPort}` } as RequestInit);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(blob.data.length));
    const hash = createHash("sha256");
    for await (const chunk of response.body!) hash.update(chunk);
    expect(hash.digest("hex")).toBe(blob.sha256);
    const missing = await fetch(origin.url("/nothing-here"), { proxy: `http://127.0.0.1:${peer.proxyPort}` } as RequestInit);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("not found");
  });

  test("proxy basic auth: 407 without credentials, served with them", async () => {
    const denied = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", `http://127.0.0.1:${guarded.proxyPort}`, origin.url("/plain.txt")]);
    expect(denied.stdout).toBe("407");
    const allowed = await run("curl", ["-sS", "-x", `http://ops:s3cret@127.0.0.1:${guarded.proxyPort}`, origin.url("/plain.txt")]);
    expect(allowed.stdout).toBe("plain text through the proxy\n");
  });

  test("bad input gets an error or a closed connection, and the daemon keeps serving without leaking", async () => {
    const pid = peer.process.pid!;
    const port = peer.proxyPort;
    const baseline = openFds(pid);
    expect(await raw(port, "THIS IS NOT HTTP\r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(port, "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(64 * 1024) + "\r\n\r\n")).toMatch(/^HTTP\/1\.1 (431|400)/);
    expect(await raw(port, "GET ftp://example.invalid/file HTTP/1.1\r\nHost: example.invalid\r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(port, "CONNECT not-a-target HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
    const closed = await freePort();
    const refused = await raw(port, `CONNECT 127.0.0.1:${closed} HTTP/1.1\r\nHost: 127.0.0.1:${closed}\r\n\r\n`);
    expect(refused).toMatch(/^HTTP\/1\.1 502/);
    expect(refused.toLowerCase()).toContain("x-dragonfly-error-type: proxy");
    const badPiece = await raw(port, `GET ${origin.url("/v2/lib/blobs/sha256:0001")} HTTP/1.1\r\nHost: x\r\nX-Dragonfly-Piece-Length: 1kib\r\nConnection: close\r\n\r\n`);
    expect(badPiece).toMatch(/^HTTP\/1\.1 400/);
    expect(badPiece).toContain("x-dragonfly-piece-length");
    // An upstream that resets mid-body: the client sees a short body (curl exit 18) or a reset (56).
    const address = resetting.address() as { port: number };
    for (let i = 0; i < 5; i++) {
      const cut = await run("curl", ["-sS", "-o", "/dev/null", "-x", `http://127.0.0.1:${port}`, `http://127.0.0.1:${address.port}/big.bin`]);
      expect([18, 52, 56]).toContain(cut.code!);
    }
    // Clients that hang up mid-response.
    for (let i = 0; i < 5; i++) {
      expect(await hangUp(port, `GET ${origin.url("/v2/lib/blobs/sha256:0001")} HTTP/1.1\r\nHost: x\r\n\r\n`)).toBeGreaterThan(0);
    }
    const ok = await run("curl", ["-sS", "-f", "-x", `http://127.0.0.1:${port}`, origin.url("/plain.txt")]);
    expect(ok.stdout).toBe("plain text through the proxy\n");
    await waitFor(() => openFds(pid) <= baseline + 2, `file descriptors of dfdaemon to return to ${baseline}`);
  });
});
