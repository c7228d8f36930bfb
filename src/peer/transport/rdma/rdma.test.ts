import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, pieceDigest } from "../../../common/digest.ts";
import { PieceNotFound } from "../../../common/errors.ts";
import { setLogLevel, type Logger } from "../../../common/log.ts";
import { CompressionPolicy } from "../compression/policy.ts";
import { createTransportMetrics } from "../metrics.ts";
import { createDaemonTransports } from "../select.ts";
import { createPieceTransport } from "../transport.ts";
import type { PieceMetadata } from "../vortex/codec.ts";
import { createVortexServer, type ServedPiece, type VortexServerOptions } from "../vortex/server.ts";
import { RegisteredBufferPool } from "./buffer-pool.ts";
import { RdmaEngine } from "./engine.ts";
import { RdmaError } from "./errors.ts";
import { loadFfiVerbs } from "./ffi-verbs.ts";
import { CONSTANTS as C } from "./layout.ts";
import { probeRdma } from "./probe.ts";
import { createSoftVerbs, SoftFabric } from "./soft-verbs.ts";

setLogLevel("error");

const MiB = 1024 * 1024;
const TASK_ID = "ef".repeat(32);
const PIECES = new Map<number, [number, number]>([
  [0, [0, 5 * MiB + 4321]],
  [1, [5 * MiB + 4321, 2 * MiB]],
]);
let dir = "";
let path = "";
let content = new Uint8Array(0);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vortex-rdma-"));
  path = join(dir, "content");
  content = new Uint8Array(7 * MiB + 4321);
  let x = 0x2545f491;
  for (let i = 0; i < content.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    content[i] = x & 0xff;
  }
  await writeFile(path, content);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves when `condition` holds, checking on every turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const pieceBytes = (number: number) => {
  const [offset, length] = PIECES.get(number)!;
  return content.subarray(offset, offset + length);
};

function metadataOf(number: number): PieceMetadata {
  const [offset, length] = PIECES.get(number) ?? [0, 0];
  return { number, offset, length, digest: pieceDigest(crc32(pieceBytes(number))), parentId: "", trafficType: 1, costSeconds: 0, createdAtSeconds: 0 };
}

function memoryLogger(lines: { level: string; message: string; fields?: Record<string, unknown> }[] = []): Logger & { lines: typeof lines } {
  const logger: Logger & { lines: typeof lines } = {
    lines,
    debug: (message, fields) => void lines.push({ level: "debug", message, fields }),
    info: (message, fields) => void lines.push({ level: "info", message, fields }),
    warn: (message, fields) => void lines.push({ level: "warn", message, fields }),
    error: (message, fields) => void lines.push({ level: "error", message, fields }),
    child: () => logger,
  };
  return logger;
}

function startServer(overrides: Partial<VortexServerOptions> = {}) {
  const served: ServedPiece[] = [];
  const server = createVortexServer({
    host: "127.0.0.1",
    port: 0,
    log: memoryLogger(),
    async resolvePiece(taskId, number) {
      if (taskId !== TASK_ID || !PIECES.has(number)) throw new PieceNotFound(taskId, number);
      const metadata = metadataOf(number);
      return { metadata, path, offset: metadata.offset };
    },
    onServed: (info) => served.push(info),
    ...overrides,
  });
  return { server, served };
}

async function fetchPiece(transport: ReturnType<typeof createPieceTransport>, port: number, number: number, expectedLength?: number) {
  const [offset, length] = PIECES.get(number)!;
  const out = new Uint8Array(length);
  const result = await transport.download({
    host: "127.0.0.1",
    port,
    taskId: TASK_ID,
    number,
    write: (chunk, position) => void out.set(chunk, position - offset),
    ...(expectedLength ? { expectedLength } : {}),
  });
  return { out, result };
}

/** Two engines on one in-process fabric: a parent and a child. */
function softPair(options: { readChunk?: number; poolBytes?: number } = {}) {
  const fabric = new SoftFabric();
  const verbs = createSoftVerbs(fabric, ["soft0"]);
  const parent = new RdmaEngine({ verbs, device: "soft0", ...options });
  const child = new RdmaEngine({ verbs, device: "soft0", ...options });
  return { fabric, parent, child };
}

describe("libibverbs on this machine", () => {
  test("the library loads through bun:ffi and enumeration finds no device", () => {
    const verbs = loadFfiVerbs();
    expect(verbs.name).toBe("libibverbs.so.1");
    expect(verbs.devices()).toEqual([]);
  });

  test("a library that cannot be loaded is an RdmaError naming it", () => {
    expect(() => loadFfiVerbs("libibverbs-missing.so.9")).toThrow(RdmaError);
    expect(probeRdma({ loadVerbs: () => loadFfiVerbs("libibverbs-missing.so.9") }).reason).toMatch(/^libibverbs-missing\.so\.9 cannot be loaded/);
  });

  test("the probe says plainly why RDMA is unavailable", () => {
    expect(probeRdma()).toEqual({ reason: "no RDMA device found by libibverbs.so.1" });
    const fabric = new SoftFabric();
    expect(probeRdma({ loadVerbs: () => createSoftVerbs(fabric, ["soft0"]), device: "mlx5_9" }).reason).toBe(
      'RDMA device "mlx5_9" not found (present: soft0)',
    );
  });

  test("download.protocol rdma without a device falls back to TCP with one log line, and pieces still move", async () => {
    const log = memoryLogger();
    const transports = createDaemonTransports({ protocol: "rdma", downloadCompression: "none", uploadCompression: "auto", log });
    expect(transports.rdma).toBeUndefined();
    expect(transports.transport.name).toBe("tcp");
    expect(log.lines).toEqual([{ level: "warn", message: "RDMA unavailable, using TCP: no RDMA device found by libibverbs.so.1", fields: undefined }]);
    const { server } = startServer(transports.server);
    await server.start();
    try {
      const { out } = await fetchPiece(transports.transport, server.port, 1);
      expect(sha256(out)).toBe(sha256(pieceBytes(1)));
      expect(log.lines).toHaveLength(1);
    } finally {
      await server.stop();
      transports.close();
    }
  });
});

describe("RDMA transport over in-process verbs", () => {
  test("a piece moves by RDMA READ in chunks, is checked by CRC-32 and every buffer and queue pair is released", async () => {
    const { fabric, parent, child } = softPair({ readChunk: MiB });
    const { server, served } = startServer({ rdma: parent });
    await server.start();
    const metrics = createTransportMetrics();
    try {
      const transport = createPieceTransport({ rdma: child, metrics, log: memoryLogger() });
      expect(transport.name).toBe("rdma");
      const { out, result } = await fetchPiece(transport, server.port, 0, 5 * MiB + 4321);
      expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      expect(result.crc32).toBe(crc32(pieceBytes(0)));
      expect(fabric.reads).toBe(6);
      await until(() => served.length === 1);
      expect(served.map((s) => [s.mode, s.bytes])).toEqual([["rdma", 5 * MiB + 4321]]);
      expect(metrics.rdmaPieces.get({ direction: "download" })).toBe(1);
      expect([parent.buffersInUse, child.buffersInUse, parent.outstanding, child.outstanding]).toEqual([0, 0, 0, 0]);
      expect(fabric.queuePairs.size).toBe(0);
    } finally {
      await server.stop();
      parent.close();
      child.close();
    }
  });

  test("a parent without RDMA tells the child why; the child uses TCP and logs it once", async () => {
    const { parent, child } = softPair();
    parent.close();
    const { server, served } = startServer({ rdmaUnavailableReason: "no RDMA device found by libibverbs.so.1" });
    await server.start();
    const log = memoryLogger();
    const metrics = createTransportMetrics();
    try {
      const transport = createPieceTransport({ rdma: child, metrics, log });
      for (const number of [0, 1, 0]) {
        const { out } = await fetchPiece(transport, server.port, number);
        expect(sha256(out)).toBe(sha256(pieceBytes(number)));
      }
      expect(served.map((s) => s.mode)).toEqual(["plain", "plain", "plain"]);
      const lines = log.lines.filter((l) => /RDMA not used/.test(l.message));
      expect(lines).toHaveLength(1);
      expect(lines[0]!.fields).toMatchObject({ reason: "no RDMA device found by libibverbs.so.1" });
      expect(metrics.rdmaFallbacks.get({ reason: "refused" })).toBe(1);
    } finally {
      await server.stop();
      child.close();
    }
  });

  test("an error completion fails the RDMA read; the piece is fetched again over TCP and the parent's buffer is released", async () => {
    const { fabric, parent, child } = softPair();
    const { server, served } = startServer({ rdma: parent });
    await server.start();
    const log = memoryLogger();
    try {
      fabric.failNextRead = C.IBV_WC_REM_ACCESS_ERR;
      const transport = createPieceTransport({ rdma: child, log });
      const { out } = await fetchPiece(transport, server.port, 1);
      expect(sha256(out)).toBe(sha256(pieceBytes(1)));
      expect(served.map((s) => s.mode)).toEqual(["rdma", "plain"]);
      expect(String(served[0]!.error)).toMatch(/did not confirm its RDMA read/);
      const line = log.lines.find((l) => /RDMA not used/.test(l.message));
      expect(String(line?.fields?.reason)).toMatch(/RDMA READ failed: remote access error/);
      expect([parent.buffersInUse, child.buffersInUse]).toEqual([0, 0]);
    } finally {
      await server.stop();
      parent.close();
      child.close();
    }
  });

  test("RDMA and compression negotiate together: RDMA wins when both sides have it", async () => {
    const { parent, child } = softPair();
    const { server, served } = startServer({ rdma: parent, compression: new CompressionPolicy({ mode: "zstd" }) });
    await server.start();
    try {
      const { out } = await fetchPiece(createPieceTransport({ rdma: child, compression: "auto" }), server.port, 1);
      expect(sha256(out)).toBe(sha256(pieceBytes(1)));
      await until(() => served.length === 1);
      expect(served[0]!.mode).toBe("rdma");
    } finally {
      await server.stop();
      parent.close();
      child.close();
    }
  });

  test("the buffer pool reuses registered buffers and refuses past its budget", () => {
    const fabric = new SoftFabric();
    const context = createSoftVerbs(fabric, ["soft0"]).open("soft0", 1, 16);
    const pool = new RegisteredBufferPool(context, C.IBV_ACCESS_LOCAL_WRITE, 4 * MiB);
    const a = pool.acquire(3 * MiB);
    expect(a.view.length).toBe(3 * MiB);
    expect(pool.registeredBytes).toBe(4 * MiB);
    expect(() => pool.acquire(MiB)).toThrow(/RDMA buffer pool exhausted/);
    pool.release(a);
    const b = pool.acquire(100);
    expect(pool.registeredBytes).toBe(MiB);
    expect(fabric.regions.size).toBe(1);
    pool.release(b);
    expect(pool.acquire(MiB).region).toBe(b.region);
    pool.close();
    expect(fabric.regions.size).toBe(0);
  });

  test("queue pairs move RESET → INIT → RTR → RTS only in order, and READs need RTS and remote read access", () => {
    const fabric = new SoftFabric();
    const verbs = createSoftVerbs(fabric, ["soft0"]);
    const a = verbs.open("soft0", 1, 16);
    const b = verbs.open("soft0", 1, 16);
    const qa = a.createQueuePair(4);
    const qb = b.createQueuePair(4);
    expect(() => a.toRts(qa, 1)).toThrow(/not 2/);
    a.toInit(qa, C.IBV_ACCESS_LOCAL_WRITE);
    b.toInit(qb, C.IBV_ACCESS_LOCAL_WRITE);
    const remote = { qpn: qb.qpn, psn: 1, lid: 1, gid: new Uint8Array(16), mtu: 3 };
    a.toRtr(qa, remote);
    b.toRtr(qb, { ...remote, qpn: qa.qpn });
    const local = a.registerMemory(new Uint8Array(16), C.IBV_ACCESS_LOCAL_WRITE);
    const far = b.registerMemory(new Uint8Array(16).fill(7), C.IBV_ACCESS_LOCAL_WRITE);
    expect(() => a.postRead(qa, 1n, local, 0, 16, { address: far.address, rkey: far.rkey })).toThrow(/not ready to send/);
    a.toRts(qa, 1);
    a.postRead(qa, 2n, local, 0, 16, { address: far.address, rkey: far.rkey });
    expect(a.poll(4)).toEqual([{ wrId: 2n, status: C.IBV_WC_REM_ACCESS_ERR, byteLength: 0 }]);
    expect(local.buffer.every((v) => v === 0)).toBe(true);
  });
});
