import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, pieceDigest } from "../../../common/digest.ts";
import { DigestMismatch, PieceNotFound, TransferError } from "../../../common/errors.ts";
import { createLogger, setLogLevel } from "../../../common/log.ts";
import { createTcpPieceTransport } from "../transport.ts";
import { downloadPiece, verifyPieceDigest } from "./client.ts";
import { decodeErrorValue, decodeHeader, encodePieceContentHead, encodePieceRequest, Tag, type PieceKind, type PieceMetadata } from "./codec.ts";
import { createVortexServer, type ResolvedPiece, type ServedPiece, type VortexServerOptions } from "./server.ts";

setLogLevel("error");

const MiB = 1024 * 1024;
const TASK_ID = "ab".repeat(32);
/** Pieces of the test file: number → [offset, length]; piece 1 is odd-sized to cross chunk boundaries unevenly. */
const PIECES = new Map<number, [number, number]>([
  [0, [0, 5 * MiB]],
  [1, [5 * MiB, 7 * MiB + 12345]],
  [2, [12 * MiB + 12345, 1]],
  [3, [12 * MiB + 12346, 0]],
]);
const FILE_SIZE = 12 * MiB + 12346;

let dir = "";
let path = "";
let content = new Uint8Array(0);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vortex-"));
  path = join(dir, "content");
  content = new Uint8Array(FILE_SIZE);
  // Pseudo-random bytes so that misplaced chunks change the digest.
  let x = 0x12345678;
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

function metadataOf(number: number): PieceMetadata {
  const [offset, length] = PIECES.get(number) ?? [0, 0];
  return {
    number,
    offset,
    length,
    digest: pieceDigest(crc32(content.subarray(offset, offset + length))),
    parentId: "10.0.0.1-host-peer",
    trafficType: 1,
    costSeconds: 1,
    createdAtSeconds: 1_700_000_000,
  };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function startServer(overrides: Partial<VortexServerOptions> = {}) {
  const served: ServedPiece[] = [];
  const kinds: PieceKind[] = [];
  const server = createVortexServer({
    host: "127.0.0.1",
    port: 0,
    log: createLogger({ test: "vortex" }),
    chunkSize: 1 * MiB,
    async resolvePiece(taskId, number, kind): Promise<ResolvedPiece> {
      kinds.push(kind);
      if (taskId !== TASK_ID || !PIECES.has(number)) throw new PieceNotFound(taskId, number);
      const metadata = metadataOf(number);
      return { metadata, path, offset: metadata.offset };
    },
    onServed: (info) => served.push(info),
    ...overrides,
  });
  return { server, served, kinds };
}

/** Sends raw bytes and returns everything the server sends until it closes. */
function rawExchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  return new Promise((resolve, reject) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void socket.write(bytes),
        data: (_socket, chunk) => void parts.push(chunk),
        close: () => resolve(Buffer.concat(parts)),
        error: (_socket, error) => reject(error),
      },
    }).catch(reject);
  });
}

function decodeErrorResponse(bytes: Uint8Array) {
  const header = decodeHeader(bytes);
  expect(header.tag).toBe(Tag.Error);
  expect(bytes.length).toBe(6 + header.length);
  return decodeErrorValue(bytes.subarray(6));
}

/** Resolves when `condition` holds, checking on every turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe("Vortex TCP transfer", () => {
  test("a multi-MiB piece at an offset arrives intact, written to a file at its positions", async () => {
    const { server, served } = startServer();
    await server.start();
    await using _ = server;
    const out = await open(join(dir, "out-1"), "w+");
    try {
      const positions: number[] = [];
      const result = await downloadPiece({
        host: "127.0.0.1",
        port: server.port,
        taskId: TASK_ID,
        number: 1,
        // An async write exercises the pause/resume path.
        write: async (chunk, position) => {
          positions.push(position);
          await out.write(chunk, 0, chunk.length, position);
        },
      });
      const [offset, length] = PIECES.get(1) as [number, number];
      expect(result.bytes).toBe(length);
      expect(result.metadata).toEqual(metadataOf(1));
      expect(positions[0]).toBe(offset);
      expect(verifyPieceDigest(result.metadata, result.crc32)).toBe(true);
      const written = new Uint8Array(offset + length);
      await out.read(written, 0, written.length, 0);
      expect(sha256(written.subarray(offset))).toBe(sha256(content.subarray(offset, offset + length)));
      expect(result.crc32).toBe(crc32(content.subarray(offset, offset + length)));
      await until(() => served.length === 1);
      expect(served[0]).toMatchObject({ taskId: TASK_ID, number: 1, kind: "standard", bytes: length, remoteAddress: "127.0.0.1" });
      expect(served[0]?.error).toBeUndefined();
    } finally {
      await out.close();
    }
  });

  test("one-byte and empty pieces, and persistent kinds reach resolvePiece with their kind", async () => {
    const { server, kinds } = startServer();
    await server.start();
    await using _ = server;
    const chunks: Uint8Array[] = [];
    const one = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 2, kind: "persistent", write: (c) => void chunks.push(c) });
    expect(one.bytes).toBe(1);
    expect([...Buffer.concat(chunks)]).toEqual([content[12 * MiB + 12345] as number]);
    const empty = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 3, kind: "persistentCache", write: () => {} });
    expect(empty).toEqual({ metadata: metadataOf(3), crc32: 0, bytes: 0 });
    expect(kinds).toEqual(["persistent", "persistentCache"]);
  });

  test("a missing piece is PieceNotFound carrying the remote message", async () => {
    const { server } = startServer();
    await server.start();
    await using _ = server;
    const error = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 99, write: () => {} }).catch((e) => e);
    expect(error).toBeInstanceOf(PieceNotFound);
    expect((error as PieceNotFound).cause).toEqual(new Error(`piece ${TASK_ID}-99 not found`));
    const raw = await rawExchange(server.port, encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 99 }));
    expect(decodeErrorResponse(raw)).toEqual({ code: 2, message: `piece ${TASK_ID}-99 not found` });
  });

  test("a storage failure is an Internal error frame, then a TransferError naming the piece and address", async () => {
    const { server } = startServer({
      resolvePiece: async (_taskId, number) => ({ metadata: metadataOf(number), path: join(dir, "missing"), offset: 0 }),
    });
    await server.start();
    await using _ = server;
    const error = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 0, write: () => {} }).catch((e) => e);
    expect(error).toBeInstanceOf(TransferError);
    expect((error as Error).message).toStartWith(`Cannot download piece "${TASK_ID}-0" from 127.0.0.1:${server.port}: remote error (code 3): `);
    expect((error as Error).message).toContain("ENOENT");
  });

  test("a content file shorter than the piece is refused before any byte is sent", async () => {
    const { server } = startServer({
      resolvePiece: async (_taskId, number) => ({ metadata: metadataOf(number), path, offset: FILE_SIZE - 10 }),
    });
    await server.start();
    await using _ = server;
    const raw = await rawExchange(server.port, encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 0 }));
    const error = decodeErrorResponse(raw);
    expect(error.code).toBe(3);
    expect(error.message).toContain(`content file holds ${FILE_SIZE} bytes`);
  });

  test("malformed requests get an InvalidArgument error frame and the server keeps serving", async () => {
    const { server } = startServer();
    await server.start();
    await using _ = server;
    const garbage = await rawExchange(server.port, new TextEncoder().encode("hello vortex, this is not a frame"));
    expect(decodeErrorResponse(garbage)).toEqual({ code: 1, message: "Invalid Vortex frame: unknown tag 101" });
    const badLength = await rawExchange(server.port, new Uint8Array([1, 0, 0, 0, 0, 67]));
    expect(decodeErrorResponse(badLength)).toEqual({ code: 1, message: "Invalid Vortex frame: download piece length must be 68, got 67" });
    const request = encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 0 });
    request.set(new TextEncoder().encode("../"), 6);
    const badId = await rawExchange(server.port, request);
    expect(decodeErrorResponse(badId).message).toMatch(/^Invalid Vortex frame: task ID "\.\.\/.*" is not 64 lowercase hex characters$/);
    const cache = await rawExchange(server.port, new Uint8Array([1, 6, 0, 0, 0, 68]));
    expect(decodeErrorResponse(cache)).toEqual({ code: 1, message: "Invalid Vortex frame: unsupported tag 6 (download cache piece)" });

    let bytes = 0;
    const result = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 0, write: (c) => void (bytes += c.length) });
    expect(result.bytes).toBe(5 * MiB);
    expect(bytes).toBe(5 * MiB);
  });

  test("a client that sends nothing is disconnected after the request timeout", async () => {
    const { server } = startServer({ requestTimeoutMs: 50 });
    await server.start();
    await using _ = server;
    const raw = await rawExchange(server.port, new Uint8Array([0, 0, 0]));
    expect(raw.length).toBe(0);
    expect(server.connections).toBe(0);
  });

  test("connections beyond maxConnections are refused with an Internal error frame", async () => {
    const { server } = startServer({ maxConnections: 1, requestTimeoutMs: 60_000 });
    await server.start();
    await using _ = server;
    const idle = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
    await until(() => server.connections === 1);
    const raw = await rawExchange(server.port, encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 0 }));
    expect(decodeErrorResponse(raw)).toEqual({ code: 3, message: "too many connections (limit 1)" });
    idle.terminate();
  });

  test("aborting a download rejects with the abort reason and frees the server's connection", async () => {
    const { server, served } = startServer();
    await server.start();
    await using _ = server;
    const controller = new AbortController();
    let release = () => {};
    let writes = 0;
    const download = downloadPiece({
      host: "127.0.0.1",
      port: server.port,
      taskId: TASK_ID,
      number: 1,
      signal: controller.signal,
      write: () => {
        writes++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await until(() => writes === 1);
    const reason = new Error("user cancelled");
    controller.abort(reason);
    expect(await download.catch((e) => e)).toBe(reason);
    release();
    expect(writes).toBe(1);
    await until(() => served.length === 1);
    expect(served[0]?.error).toBeDefined();
    expect(served[0]?.bytes).toBeLessThan(PIECES.get(1)?.[1] as number);
    expect(server.connections).toBe(0);
  });

  test("an already aborted signal never connects", async () => {
    const { server, kinds } = startServer();
    await server.start();
    await using _ = server;
    const reason = new Error("too late");
    const error = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 0, signal: AbortSignal.abort(reason), write: () => {} }).catch((e) => e);
    expect(error).toBe(reason);
    expect(kinds).toEqual([]);
  });

  test("a server that dies mid-piece is a TransferError reporting a short read", async () => {
    const metadata = { ...metadataOf(0), length: 4 * MiB };
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          socket.write(encodePieceContentHead("standard", metadata));
          socket.write(new Uint8Array(1000));
          socket.terminate();
        },
      },
    });
    try {
      let received = 0;
      const error = await downloadPiece({ host: "127.0.0.1", port: listener.port, taskId: TASK_ID, number: 0, write: (c) => void (received += c.length) }).catch((e) => e);
      expect(error).toBeInstanceOf(TransferError);
      expect((error as Error).message).toStartWith(`Cannot download piece "${TASK_ID}-0" from 127.0.0.1:${listener.port}: connection closed after 1000 of 4194304 bytes`);
      expect(received).toBe(1000);
    } finally {
      listener.stop(true);
    }
  });

  test("an unexpected tag and a wrong piece number are TransferErrors", async () => {
    const replies = [new Uint8Array([0, 3, 0, 0, 0, 0]), encodePieceContentHead("standard", { ...metadataOf(2), number: 5 })];
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket) => void socket.write(replies.shift() as Uint8Array) } });
    try {
      const options = { host: "127.0.0.1", port: listener.port, taskId: TASK_ID, number: 2, write: () => {} };
      await expect(downloadPiece(options)).rejects.toThrow(/: Invalid Vortex frame: unexpected tag 3, expected 1 \(piece content\) or 255 \(error\)$/);
      await until(() => replies.length === 1);
      await expect(downloadPiece(options)).rejects.toThrow(/: Invalid Vortex frame: got piece 5 instead$/);
    } finally {
      listener.stop(true);
    }
  });

  test("a refused connection names the address and piece", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const error = await downloadPiece({ host: "127.0.0.1", port, taskId: TASK_ID, number: 3, write: () => {} }).catch((e) => e);
    expect(error).toBeInstanceOf(TransferError);
    expect((error as Error).message).toBe(`Cannot download piece "${TASK_ID}-3" from 127.0.0.1:${port}: connection refused`);
  });

  test("a parent that never answers hits the piece timeout", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const error = await downloadPiece({ host: "127.0.0.1", port: listener.port, taskId: TASK_ID, number: 3, timeoutMs: 100, write: () => {} }).catch((e) => e);
      expect(error).toBeInstanceOf(TransferError);
      expect((error as Error).message).toEndWith(`127.0.0.1:${listener.port}: timeout after 100 ms`);
    } finally {
      listener.stop(true);
    }
  });

  test("a write that throws fails the download with that error", async () => {
    const { server } = startServer();
    await server.start();
    await using _ = server;
    const failure = new Error("disk full");
    const error = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 0, write: () => { throw failure; } }).catch((e) => e);
    expect(error).toBe(failure);
  });

  test("many concurrent downloads through the PieceTransport all arrive intact", async () => {
    const { server, served } = startServer();
    await server.start();
    await using _ = server;
    const transport = createTcpPieceTransport({ timeoutMs: 60_000 });
    expect(transport.name).toBe("tcp");
    const numbers = Array.from({ length: 48 }, (_, i) => i % 3);
    const results = await Promise.all(
      numbers.map((number) => {
        let crc = 0;
        return transport
          .download({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number, write: (c) => void (crc = crc32(c, crc)) })
          .then((result) => ({ result, crc }));
      }),
    );
    for (const [i, { result, crc }] of results.entries()) {
      const number = numbers[i] as number;
      expect(result.bytes).toBe(PIECES.get(number)?.[1] as number);
      expect(result.crc32).toBe(crc);
      expect(verifyPieceDigest(result.metadata, result.crc32)).toBe(true);
    }
    await until(() => served.length === numbers.length);
    expect(served.filter((s) => s.error !== undefined)).toEqual([]);
  });

  test("stop() lets a piece in flight finish and refuses new connections", async () => {
    const { server } = startServer();
    await server.start();
    const port = server.port;
    let release = () => {};
    let writes = 0;
    let bytes = 0;
    const download = downloadPiece({
      host: "127.0.0.1",
      port,
      taskId: TASK_ID,
      number: 0,
      write: (chunk) => {
        bytes += chunk.length;
        if (++writes > 1) return;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await until(() => writes === 1);
    const stopped = server.stop();
    release();
    expect((await download).bytes).toBe(5 * MiB);
    await stopped;
    expect(bytes).toBe(5 * MiB);
    await expect(downloadPiece({ host: "127.0.0.1", port, taskId: TASK_ID, number: 0, write: () => {} })).rejects.toThrow(/connection refused/);
  });
});

describe("verifyPieceDigest", () => {
  test("throws DigestMismatch naming both digests, and skips an empty digest", () => {
    const metadata = metadataOf(2);
    expect(() => verifyPieceDigest(metadata, 1)).toThrow(DigestMismatch);
    expect(() => verifyPieceDigest(metadata, 1)).toThrow(`Cannot verify piece "2": digest mismatch: expected "${metadata.digest}", got "crc32:1"`);
    expect(verifyPieceDigest({ ...metadata, digest: "" }, 1)).toBe(false);
  });
});
