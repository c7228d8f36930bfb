import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zstdCompressSync } from "node:zlib";
import type { Socket } from "bun";
import { crc32, pieceDigest } from "../../common/digest.ts";
import { InvalidArgument, PieceNotFound } from "../../common/errors.ts";
import { setLogLevel, type Logger } from "../../common/log.ts";
import { waitFor } from "../../../test/helpers/processes.ts";
import { createPrecompressor } from "./compression/blocks.ts";
import { CompressionPolicy, ParentRates, TASK_RESAMPLE_EVERY } from "./compression/policy.ts";
import { decompressBlock, DecompressionError, frameContentSize } from "./compression/zstd.ts";
import { createTransportMetrics } from "./metrics.ts";
import { createPieceTransport } from "./transport.ts";
import { downloadPiece } from "./vortex/client.ts";
import { downloadPieceExtended } from "./vortex/extended-client.ts";
import { encodeErrorFrame, encodePieceContentHead, ErrorCode, HEADER_SIZE, PieceResponseParser, Tag, type PieceMetadata } from "./vortex/codec.ts";
import {
  BlockCodec,
  encodeBlock,
  encodeCompressedContentHead,
  encodeHello,
  encodeHelloAck,
  ExtendedResponseParser,
  ExtensionTag,
} from "./vortex/extension.ts";
import { createVortexServer, type ServedPiece } from "./vortex/server.ts";

setLogLevel("error");

const MiB = 1024 * 1024;
const TASK_ID = "cd".repeat(32);
/** Piece 0: JSON log lines (compressible); piece 1: random bytes; piece 2: an odd-sized tail of log lines. */
const PIECES = new Map<number, [number, number]>([
  [0, [0, 4 * MiB]],
  [1, [4 * MiB, 4 * MiB]],
  [2, [8 * MiB, 1 * MiB + 777]],
]);
const FILE_SIZE = 9 * MiB + 777;

let dir = "";
let path = "";
let content = new Uint8Array(0);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vortex-zstd-"));
  path = join(dir, "content");
  content = new Uint8Array(FILE_SIZE);
  const encoder = new TextEncoder();
  let at = 0;
  for (let i = 0; at < 4 * MiB; i++) {
    const line = `{"ts":${1_700_000_000 + i},"level":"${i % 7 ? "info" : "warn"}","path":"/api/v1/tasks/${(i * 7919) % 100_003}","ms":${i % 977}}\n`;
    at += encoder.encodeInto(line, content.subarray(at, 4 * MiB)).written;
  }
  let x = 0x9e3779b9;
  for (let i = 4 * MiB; i < 8 * MiB; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    content[i] = x & 0xff;
  }
  content.copyWithin(8 * MiB, 12345, 12345 + 1 * MiB + 777);
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
    parentId: "",
    trafficType: 1,
    costSeconds: 0,
    createdAtSeconds: 1_700_000_000,
  };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const pieceBytes = (number: number) => {
  const [offset, length] = PIECES.get(number)!;
  return content.subarray(offset, offset + length);
};

function startServer(mode: "none" | "auto" | "zstd" = "auto") {
  const served: ServedPiece[] = [];
  const metrics = createTransportMetrics();
  const compression = new CompressionPolicy({ mode });
  const server = createVortexServer({
    host: "127.0.0.1",
    port: 0,
    compression,
    metrics,
    async resolvePiece(taskId, number) {
      if (taskId !== TASK_ID || !PIECES.has(number)) throw new PieceNotFound(taskId, number);
      const metadata = metadataOf(number);
      return { metadata, path, offset: metadata.offset };
    },
    onServed: (info) => served.push(info),
  });
  return { server, served, metrics, compression };
}

/** Downloads a piece through `transport` into memory; returns the bytes and the result. */
async function fetchPiece(transport: ReturnType<typeof createPieceTransport>, port: number, number: number) {
  const [offset, length] = PIECES.get(number) ?? [0, 0];
  const out = new Uint8Array(length);
  const result = await transport.download({
    host: "127.0.0.1",
    port,
    taskId: TASK_ID,
    number,
    write: (chunk, position) => void out.set(chunk, position - offset),
  });
  return { out, result };
}

/** A logger that keeps its lines. */
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

/** A server scripted per connection: `answer(index, firstBytes, socket)` decides what each connection gets. */
function scriptedServer(answer: (index: number, request: Uint8Array, socket: Socket<{ bytes: Uint8Array[] }>) => void) {
  const requests: Uint8Array[] = [];
  const listener = Bun.listen<{ bytes: Uint8Array[]; answered: boolean; out?: Uint8Array; end?: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { bytes: [], answered: false };
        // Writes queue until drained, and end() waits for them, so large answers arrive whole.
        const write = socket.write.bind(socket);
        const end = socket.end.bind(socket);
        const flush = () => {
          const out = socket.data.out;
          if (out) {
            const n = write(out);
            socket.data.out = n >= out.length ? undefined : out.subarray(Math.max(0, n));
          }
          if (!socket.data.out && socket.data.end) end();
        };
        Object.assign(socket, {
          write: (bytes: Uint8Array) => {
            socket.data.out = socket.data.out ? Buffer.concat([socket.data.out, bytes]) : new Uint8Array(bytes);
            flush();
            return bytes.length;
          },
          end: () => {
            socket.data.end = true;
            flush();
          },
          flush,
        });
      },
      drain(socket) {
        (socket as unknown as { flush(): void }).flush();
      },
      data(socket, chunk) {
        socket.data.bytes.push(new Uint8Array(chunk));
        const all = Buffer.concat(socket.data.bytes);
        // A plain request is 74 bytes; a Hello (24 bytes) comes before it.
        const hello = all[1] === ExtensionTag.Hello;
        const want = hello ? HEADER_SIZE + new DataView(all.buffer, all.byteOffset).getUint32(2) + 74 : all[1] === Tag.DownloadPiece ? 74 : HEADER_SIZE;
        if (socket.data.answered || all.length < want) return;
        socket.data.answered = true;
        requests.push(new Uint8Array(all));
        answer(requests.length - 1, new Uint8Array(all), socket as unknown as Socket<{ bytes: Uint8Array[] }>);
      },
    },
  });
  return { port: listener.port, requests, stop: () => listener.stop(true) };
}

/** Answers like a Dragonfly server that knows only the plain tags: unknown tag → error frame, else the piece. */
function dragonflyAnswer(_index: number, request: Uint8Array, socket: Socket<{ bytes: Uint8Array[] }>) {
  if (request[1] !== Tag.DownloadPiece) {
    socket.write(encodeErrorFrame(ErrorCode.InvalidArgument, `unsupported tag ${request[1]}`));
    socket.end();
    return;
  }
  const number = new DataView(request.buffer, request.byteOffset).getUint32(HEADER_SIZE + 64);
  const metadata = metadataOf(number);
  socket.write(Buffer.concat([encodePieceContentHead("standard", metadata), pieceBytes(number)]));
  socket.end();
}

describe("compression on the wire", () => {
  test("a compressing client and server move a log piece compressed; the bytes and CRC are the original's", async () => {
    const { server, served, metrics } = startServer("auto");
    await server.start();
    try {
      const clientMetrics = createTransportMetrics();
      const transport = createPieceTransport({ compression: "auto", metrics: clientMetrics });
      const { out, result } = await fetchPiece(transport, server.port, 0);
      expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      expect(result.crc32).toBe(crc32(pieceBytes(0)));
      expect(served.map((s) => s.mode)).toEqual(["compressed"]);
      const wire = served[0]!.wireBytes!;
      expect(wire).toBeLessThan(pieceBytes(0).length / 3);
      expect(clientMetrics.compressionWireBytes.get({ direction: "download" })).toBe(wire);
      expect(clientMetrics.compressionRawBytes.get({ direction: "download" })).toBe(4 * MiB);
      expect(metrics.compressionPieces.get({ direction: "upload", decision: "compressed" })).toBe(1);
      const odd = await fetchPiece(transport, server.port, 2);
      expect(sha256(odd.out)).toBe(sha256(pieceBytes(2)));
    } finally {
      await server.stop();
    }
  });

  test("random bytes are sent as they are after a sample, and counted as skipped", async () => {
    const { server, served, metrics } = startServer("zstd");
    await server.start();
    try {
      const transport = createPieceTransport({ compression: "auto" });
      const { out } = await fetchPiece(transport, server.port, 1);
      expect(sha256(out)).toBe(sha256(pieceBytes(1)));
      expect(served[0]!.mode).toBe("plain");
      expect(metrics.compressionPieces.get({ direction: "upload", decision: "skipped_ratio" })).toBe(1);
    } finally {
      await server.stop();
    }
  });

  test("a plain client gets plain Vortex from a compressing server, byte for byte", async () => {
    const { server, served } = startServer("zstd");
    await server.start();
    try {
      const out = new Uint8Array(4 * MiB);
      const result = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 0, write: (c, p) => void out.set(c, p) });
      expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      expect(result.bytes).toBe(4 * MiB);
      expect(served[0]!.mode).toBe("plain");
      // downloadPiece's parser refuses any tag beyond the plain ones, so its success means none reached it.
      expect(() => new PieceResponseParser().push(encodeHelloAck({ mayCompress: true }))).toThrow(/unknown tag 225/);
    } finally {
      await server.stop();
    }
  });

  test("a server with compression off acknowledges the Hello and sends plain content", async () => {
    const { server, served, metrics } = startServer("none");
    await server.start();
    try {
      const transport = createPieceTransport({ compression: "auto" });
      const { out } = await fetchPiece(transport, server.port, 0);
      expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      expect(served[0]!.mode).toBe("plain");
      expect(metrics.compressionPieces.get({ direction: "upload", decision: "not_negotiated" })).toBe(1);
    } finally {
      await server.stop();
    }
  });

  test("a parent that knows nothing of the extension is asked again plainly, then only plainly", async () => {
    const fake = scriptedServer(dragonflyAnswer);
    const log = memoryLogger();
    try {
      const transport = createPieceTransport({ compression: "auto", log });
      const first = await fetchPiece(transport, fake.port, 0);
      expect(sha256(first.out)).toBe(sha256(pieceBytes(0)));
      expect(fake.requests.map((r) => r[1])).toEqual([ExtensionTag.Hello, Tag.DownloadPiece]);
      const second = await fetchPiece(transport, fake.port, 1);
      expect(sha256(second.out)).toBe(sha256(pieceBytes(1)));
      expect(fake.requests.map((r) => r[1])).toEqual([ExtensionTag.Hello, Tag.DownloadPiece, Tag.DownloadPiece]);
      expect(log.lines.filter((l) => /does not speak the Vortex extension/.test(l.message))).toHaveLength(1);
    } finally {
      fake.stop();
    }
  });

  test("a parent that hangs up on the Hello is asked again plainly", async () => {
    const fake = scriptedServer((index, request, socket) => (index === 0 ? socket.terminate() : dragonflyAnswer(index, request, socket)));
    try {
      const transport = createPieceTransport({ compression: "auto", log: memoryLogger() });
      const { out } = await fetchPiece(transport, fake.port, 2);
      expect(sha256(out)).toBe(sha256(pieceBytes(2)));
      expect(fake.requests).toHaveLength(2);
    } finally {
      fake.stop();
    }
  });

  test("a corrupted compressed block is detected and the piece fetched again uncompressed", async () => {
    const raw = pieceBytes(0);
    const fake = scriptedServer((index, request, socket) => {
      if (request[1] !== ExtensionTag.Hello) return dragonflyAnswer(index, request, socket);
      const frames = [encodeHelloAck({ mayCompress: true }), encodeCompressedContentHead(metadataOf(0), MiB)];
      for (let at = 0; at < raw.length; at += MiB) {
        const block = new Uint8Array(zstdCompressSync(raw.subarray(at, at + MiB)));
        if (at === 2 * MiB) block[Math.floor(block.length / 2)]! ^= 0x5a;
        frames.push(encodeBlock(BlockCodec.Zstd, MiB, block));
      }
      socket.write(Buffer.concat(frames));
      socket.end();
    });
    const metrics = createTransportMetrics();
    try {
      const transport = createPieceTransport({ compression: "auto", metrics, log: memoryLogger() });
      const { out, result } = await fetchPiece(transport, fake.port, 0);
      expect(sha256(out)).toBe(sha256(raw));
      expect(result.crc32).toBe(crc32(raw));
      expect(fake.requests.map((r) => r[1])).toEqual([ExtensionTag.Hello, Tag.DownloadPiece]);
      const failures = metrics.compressionFailures.get({ reason: "corrupt" }) + metrics.compressionFailures.get({ reason: "digest" });
      expect(failures).toBe(1);
    } finally {
      fake.stop();
    }
  });

  test("a zip bomb (a block that inflates past its claimed size) is refused and the piece fetched plainly", async () => {
    const bomb = new Uint8Array(zstdCompressSync(new Uint8Array(64 * MiB)));
    expect(bomb.length).toBeLessThan(MiB);
    const fake = scriptedServer((index, request, socket) => {
      if (request[1] !== ExtensionTag.Hello) return dragonflyAnswer(index, request, socket);
      socket.write(Buffer.concat([encodeHelloAck({ mayCompress: true }), encodeCompressedContentHead(metadataOf(0), MiB), encodeBlock(BlockCodec.Zstd, MiB, bomb)]));
      socket.end();
    });
    const metrics = createTransportMetrics();
    try {
      const transport = createPieceTransport({ compression: "auto", metrics, log: memoryLogger() });
      const { out } = await fetchPiece(transport, fake.port, 0);
      expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      expect(metrics.compressionFailures.get({ reason: "bomb" })).toBe(1);
      expect(fake.requests).toHaveLength(2);
    } finally {
      fake.stop();
    }
  });

  test("decompressBlock refuses a frame declaring more than its claimed size; the parser refuses blocks claiming more than the piece has", async () => {
    const bomb = new Uint8Array(zstdCompressSync(new Uint8Array(32 * MiB)));
    const error = await decompressBlock(bomb, MiB).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecompressionError);
    expect((error as DecompressionError).reason).toBe("bomb");
    expect((error as Error).message).toBe("compressed block inflates past its claimed 1048576 bytes (declares 33554432)");
    const short = await decompressBlock(new Uint8Array(zstdCompressSync(new Uint8Array(10))), 11).catch((e: unknown) => e);
    expect((short as DecompressionError).reason).toBe("corrupt");
    // A block that round-trips is inflated whole.
    const good = await decompressBlock(new Uint8Array(zstdCompressSync(pieceBytes(0).subarray(0, MiB))), MiB);
    expect(sha256(good)).toBe(sha256(pieceBytes(0).subarray(0, MiB)));

    const parser = new ExtendedResponseParser();
    const small = { ...metadataOf(0), length: 100 };
    parser.push(encodeHelloAck({ mayCompress: true }));
    expect(parser.push(encodeCompressedContentHead(small, MiB)).map((e) => e.type)).toEqual(["compressed"]);
    expect(() => parser.push(encodeBlock(BlockCodec.Zstd, 101, new Uint8Array(10)))).toThrow(InvalidArgument);
    const parser2 = new ExtendedResponseParser();
    parser2.push(encodeHelloAck({ mayCompress: true }));
    parser2.push(encodeCompressedContentHead(small, MiB));
    expect(() => parser2.push(encodeBlock(BlockCodec.Zstd, 50, new Uint8Array(60)))).toThrow(/stores 60 bytes for 50 raw bytes/);
  });

  test("blocks that could inflate past their claim without declaring it are refused before inflating", async () => {
    const refuse = async (stored: Uint8Array, rawLength: number) => {
      const error = await decompressBlock(stored, rawLength).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DecompressionError);
      return error as DecompressionError;
    };
    // A frame honest about 1 MiB followed by a second frame of 64 MiB of zeros: the native codec would inflate both.
    const honest = new Uint8Array(zstdCompressSync(pieceBytes(0).subarray(0, MiB)));
    const tail = new Uint8Array(zstdCompressSync(new Uint8Array(64 * MiB)));
    const twoFrames = new Uint8Array(Buffer.concat([honest, tail]));
    expect((await refuse(twoFrames, MiB)).message).toBe(`compressed block is not a single zstd frame: ${tail.length} bytes follow the frame`);
    expect(frameContentSize(honest)).toBe(MiB);
    // A frame that does not declare its size: 1000 RLE blocks of 128 KiB (125 MiB) in 4 KB.
    const parts = [Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38)];
    for (let i = 0; i < 1000; i++) {
      const header = (i === 999 ? 1 : 0) | (1 << 1) | ((128 * 1024) << 3);
      parts.push(Uint8Array.of(header & 0xff, (header >> 8) & 0xff, header >>> 16, 0x41));
    }
    const undeclared = new Uint8Array(Buffer.concat(parts));
    expect((await refuse(undeclared, MiB)).message).toBe("compressed block is not a single zstd frame: the frame does not declare its content size");
    // Not zstd at all, truncated, and a reserved block type.
    expect((await refuse(new TextEncoder().encode("plain text, not a frame"), 23)).message).toMatch(/bad magic number/);
    expect((await refuse(honest.subarray(0, honest.length - 10), MiB)).message).toMatch(/truncated/);
    const reserved = honest.slice();
    const descriptor = reserved[4]!;
    const firstBlock = 5 + ((descriptor & 0x20) ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]! + [descriptor & 0x20 ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
    reserved[firstBlock] = reserved[firstBlock]! | 0b110;
    expect((await refuse(reserved, MiB)).message).toMatch(/reserved block type/);
  });

  test("a compressed piece is cached and served to the next child without compressing again", async () => {
    const { server, served, metrics, compression } = startServer("zstd");
    await server.start();
    try {
      for (let i = 0; i < 2; i++) {
        const { out } = await fetchPiece(createPieceTransport({ compression: "auto" }), server.port, 0);
        expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      }
      expect(served.map((s) => s.mode)).toEqual(["compressed", "compressed"]);
      expect(metrics.compressionPieces.get({ direction: "upload", decision: "cached" })).toBe(1);
      expect(compression.cachedBytes).toBe(served[0]!.wireBytes!);
    } finally {
      await server.stop();
    }
  });

  test("a parent that finds a task incompressible says so; the child asks for that task's pieces plainly", async () => {
    const fake = scriptedServer((index, request, socket) => {
      if (request[1] !== ExtensionTag.Hello) return dragonflyAnswer(index, request, socket);
      const helloLength = new DataView(request.buffer, request.byteOffset).getUint32(2);
      const number = new DataView(request.buffer, request.byteOffset).getUint32(HEADER_SIZE + helloLength + HEADER_SIZE + 64);
      socket.write(Buffer.concat([encodeHelloAck({ mayCompress: true, incompressible: true }), encodePieceContentHead("standard", metadataOf(number)), pieceBytes(number)]));
      socket.end();
    });
    try {
      const transport = createPieceTransport({ compression: "auto", log: memoryLogger() });
      for (const number of [1, 0, 2]) {
        const { out } = await fetchPiece(transport, fake.port, number);
        expect(sha256(out)).toBe(sha256(pieceBytes(number)));
      }
      // Only the first request carried a Hello; the rest of the task went as plain Vortex.
      expect(fake.requests.map((r) => r[1])).toEqual([ExtensionTag.Hello, Tag.DownloadPiece, Tag.DownloadPiece]);
      // Another task still asks for compression.
      await transport
        .download({ host: "127.0.0.1", port: fake.port, taskId: "ef".repeat(32), number: 0, write: () => {} })
        .catch(() => undefined);
      expect(fake.requests[3]![1]).toBe(ExtensionTag.Hello);
    } finally {
      fake.stop();
    }
  });

  test("a compressing server tells the child once a task's pieces have not shrunk twice", async () => {
    // Pieces 10, 11 and 12: 1 MiB each of the random region.
    const randomPiece = (number: number): PieceMetadata => {
      const offset = 4 * MiB + (number - 10) * MiB;
      return { ...metadataOf(1), number, offset, length: MiB, digest: pieceDigest(crc32(content.subarray(offset, offset + MiB))) };
    };
    const served: ServedPiece[] = [];
    const server = createVortexServer({
      host: "127.0.0.1",
      port: 0,
      compression: new CompressionPolicy({ mode: "auto" }),
      async resolvePiece(taskId, number) {
        if (number < 10 || number > 12) throw new PieceNotFound(taskId, number);
        const metadata = randomPiece(number);
        return { metadata, path, offset: metadata.offset };
      },
      onServed: (info) => served.push(info),
    });
    await server.start();
    try {
      const verdict = async (number: number) => {
        const out = new Uint8Array(MiB);
        const result = await downloadPieceExtended({
          host: "127.0.0.1",
          port: server.port,
          taskId: TASK_ID,
          number,
          hello: { acceptsZstd: true, plainRate: 0, compressedRate: 0 },
          write: (chunk, position) => void out.set(chunk, position - randomPiece(number).offset),
        });
        expect(result.crc32).toBe(crc32(out));
        return result.ack.incompressible === true;
      };
      expect(await verdict(10)).toBe(false);
      expect(await verdict(10)).toBe(false);
      expect(await verdict(11)).toBe(true);
      expect(await verdict(12)).toBe(true);
      expect(served.map((s) => s.mode)).toEqual(["plain", "plain", "plain", "plain"]);
    } finally {
      await server.stop();
    }
  });

  test("a child keeps the compressed blocks it received and relays them to its own children without compressing", async () => {
    const parent = startServer("zstd");
    await parent.server.start();
    // The middle daemon: its download side fills the cache its Vortex server serves from.
    const relay = new CompressionPolicy({ mode: "auto" });
    const relayMetrics = createTransportMetrics();
    const relayServed: ServedPiece[] = [];
    const middle = createVortexServer({
      host: "127.0.0.1",
      port: 0,
      compression: relay,
      metrics: relayMetrics,
      async resolvePiece(taskId, number) {
        if (taskId !== TASK_ID || !PIECES.has(number)) throw new PieceNotFound(taskId, number);
        const metadata = metadataOf(number);
        return { metadata, path, offset: metadata.offset };
      },
      onServed: (info) => relayServed.push(info),
    });
    await middle.start();
    try {
      const { out } = await fetchPiece(createPieceTransport({ compression: "auto", relayCache: relay }), parent.server.port, 0);
      expect(sha256(out)).toBe(sha256(pieceBytes(0)));
      expect(relay.cachedBytes).toBe(parent.served[0]!.wireBytes!);
      // Random bytes came plainly: nothing to keep.
      await fetchPiece(createPieceTransport({ compression: "auto", relayCache: relay }), parent.server.port, 1);
      expect(relay.cachedBytes).toBe(parent.served[0]!.wireBytes!);

      const child = await fetchPiece(createPieceTransport({ compression: "auto" }), middle.port, 0);
      expect(sha256(child.out)).toBe(sha256(pieceBytes(0)));
      expect(relayServed.map((s) => s.mode)).toEqual(["compressed"]);
      expect(relayServed[0]!.wireBytes).toBe(parent.served[0]!.wireBytes!);
      expect(relayMetrics.compressionPieces.get({ direction: "upload", decision: "cached" })).toBe(1);
      // The relay never ran the compressor: no speed was ever measured there.
      expect(relay.speed).toBe(0);
    } finally {
      await middle.stop();
      await parent.server.stop();
    }
  });

  test("pieces fetched from the source are compressed ahead of requests; incompressible ones only sampled", async () => {
    const { server, served, metrics, compression } = startServer("auto");
    const errors: unknown[] = [];
    const precompress = createPrecompressor(compression, (error) => errors.push(error));
    // In auto, nothing is compressed ahead until a child has asked for compression.
    expect(compression.wantsAhead()).toBe(false);
    expect(precompress({ taskId: TASK_ID, number: 0, digest: metadataOf(0).digest, offset: 0, length: 4 * MiB, path })).toBe(false);
    await compression.decide("other", 100, true, { plainRate: 0, compressedRate: 0 }, async (_p, n) => new Uint8Array(n));
    expect(compression.wantsAhead()).toBe(true);
    // Compressing ahead is not a child asking: only the request above counts.
    const asked = compression.askedAt;
    expect(new CompressionPolicy({ mode: "zstd" }).wantsAhead()).toBe(true);
    expect(new CompressionPolicy({ mode: "none" }).wantsAhead()).toBe(false);
    for (const number of [0, 1, 2]) {
      const metadata = metadataOf(number);
      expect(precompress({ taskId: TASK_ID, number, digest: metadata.digest, offset: metadata.offset, length: metadata.length, path })).toBe(true);
    }
    // A piece whose file is gone is reported, not thrown.
    precompress({ taskId: TASK_ID, number: 9, digest: "crc32:1", offset: 0, length: 10, path: join(dir, "missing") });
    await waitFor(() => errors.length === 1, "the precompressor to get through its queue");
    expect(String(errors[0])).toMatch(/missing/);
    await server.start();
    try {
      expect(compression.askedAt).toBe(asked);
      for (const number of [0, 1, 2]) {
        const { out } = await fetchPiece(createPieceTransport({ compression: "auto" }), server.port, number);
        expect(sha256(out)).toBe(sha256(pieceBytes(number)));
      }
      expect(served.map((s) => s.mode)).toEqual(["compressed", "plain", "compressed"]);
      // Both log pieces came out of the cache; the random one was remembered as not worth compressing.
      expect(metrics.compressionPieces.get({ direction: "upload", decision: "cached" })).toBe(2);
      expect(metrics.compressionPieces.get({ direction: "upload", decision: "skipped_ratio" })).toBe(1);
      expect(compression.cachedBytes).toBe(served[0]!.wireBytes! + served[2]!.wireBytes!);
    } finally {
      await server.stop();
    }
  });
});

describe("when compression pays", () => {
  const sample = async () => pieceBytes(0).subarray(0, 64 * 1024);
  const readSample = (position: number, length: number) => sample().then((b) => b.subarray(0, Math.min(length, b.length - 0)));

  test("auto compresses a slow link, not one faster than this machine compresses", async () => {
    const policy = new CompressionPolicy({ mode: "auto" });
    const first = await policy.decide("a", 4 * MiB, true, { plainRate: 0, compressedRate: 0 }, readSample);
    expect(first.compress).toBe(true);
    expect(first.ratio!).toBeLessThan(0.3);
    expect(policy.speed).toBeGreaterThan(0);
    const slow = await policy.decide("b", 4 * MiB, true, { plainRate: 12.5e6 / 8, compressedRate: 0 }, readSample);
    expect(slow).toMatchObject({ compress: true, reason: "compressed" });
    const fast = await policy.decide("c", 4 * MiB, true, { plainRate: policy.speed * 10, compressedRate: 0 }, readSample);
    expect(fast).toMatchObject({ compress: false, reason: "skipped_rate" });
  });

  test("a task whose pieces do not shrink is judged once: later pieces skip sampling, one in 16 is checked again", async () => {
    const policy = new CompressionPolicy({ mode: "auto" });
    let reads = 0;
    let source = pieceBytes(1);
    const read = async (position: number, length: number) => {
      reads++;
      return source.subarray(position, position + length);
    };
    const unknown = { plainRate: 0, compressedRate: 0 };
    const first = await policy.decide("t:0", 4 * MiB, true, unknown, read, "task");
    expect(first).toMatchObject({ compress: false, reason: "skipped_ratio", incompressible: false });
    const second = await policy.decide("t:1", 4 * MiB, true, unknown, read, "task");
    expect(second).toMatchObject({ compress: false, reason: "skipped_ratio", incompressible: true });
    const sampled = reads;
    expect(sampled).toBe(6);
    for (let n = 2; n < 2 + TASK_RESAMPLE_EVERY - 1; n++) {
      expect(await policy.decide(`t:${n}`, 4 * MiB, true, unknown, read, "task")).toMatchObject({ compress: false, incompressible: true });
    }
    expect(reads).toBe(sampled);
    // Another task is judged on its own.
    expect(await policy.decide("u:0", 4 * MiB, true, unknown, read, "other")).toMatchObject({ incompressible: false });
    // The 16th piece is sampled again; the data turned compressible, so the verdict goes.
    source = pieceBytes(0);
    const again = await policy.decide(`t:${1 + TASK_RESAMPLE_EVERY}`, 4 * MiB, true, unknown, read, "task");
    expect(again).toMatchObject({ compress: true, reason: "compressed" });
    expect(await policy.decide("t:99", 4 * MiB, true, unknown, read, "task")).toMatchObject({ compress: true });
  });

  test("auto keeps compressing only while compressed transfers beat plain ones, and re-measures plain ones", async () => {
    const policy = new CompressionPolicy({ mode: "auto" });
    expect((await policy.decide("a", MiB, true, { plainRate: 10e6, compressedRate: 40e6 }, readSample)).compress).toBe(true);
    expect((await policy.decide("b", MiB, true, { plainRate: 40e6, compressedRate: 30e6 }, readSample)).compress).toBe(false);
    // Compressed transfers as fast as this machine compresses: measure a plain one; far slower: keep compressing.
    expect((await policy.decide("c", MiB, true, { plainRate: 0, compressedRate: policy.speed }, readSample)).compress).toBe(false);
    expect((await policy.decide("e", MiB, true, { plainRate: 0, compressedRate: policy.speed / 10 }, readSample)).compress).toBe(true);
    expect((await policy.decide("d", MiB, false, { plainRate: 0, compressedRate: 0 }, readSample)).reason).toBe("not_negotiated");
  });

  test("a child's rates are averaged per parent and forgotten after their time to live", () => {
    const rates = new ParentRates(50);
    rates.record("p:1", false, 4 * MiB, 1000);
    rates.record("p:1", true, 4 * MiB, 250);
    expect(rates.get("p:1")).toEqual({ plainRate: 4 * MiB, compressedRate: 16 * MiB });
    expect(rates.get("p:2")).toEqual({ plainRate: 0, compressedRate: 0 });
  });

  test("a Hello round-trips its rates; zero means unknown", () => {
    const frame = encodeHello({ acceptsZstd: true, plainRate: 1234.6, compressedRate: 0 });
    expect(frame[1]).toBe(224);
    expect(frame.length).toBe(HEADER_SIZE + 18);
  });
});
