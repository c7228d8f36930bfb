/**
 * Streamed pieces: a parent relays a piece it is still receiving (StreamedPieceContent), over real sockets, with the
 * bytes landing in a real file while the child reads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, pieceDigest } from "../../../common/digest.ts";
import { DigestMismatch, InvalidArgument, PieceNotFound } from "../../../common/errors.ts";
import { createLogger, setLogLevel } from "../../../common/log.ts";
import { InflightPieces, type InflightPiece } from "../../storage/inflight.ts";
import { createTransportMetrics } from "../metrics.ts";
import { createTcpPieceTransport } from "../transport.ts";
import { downloadPiece } from "./client.ts";
import { encodeErrorFrame, encodePieceMetadata, ErrorCode, type PieceMetadata } from "./codec.ts";
import { downloadPieceExtended, StreamedPieceAborted } from "./extended-client.ts";
import {
  encodeStreamedContentHead,
  encodeStreamedEnd,
  ExtendedResponseParser,
  sealStreamedData,
  STREAMED_DATA_HEADROOM,
  type ExtendedResponseEvent,
} from "./extension.ts";
import { createVortexServer, type VortexServer } from "./server.ts";

setLogLevel("error");

const TASK_ID = "cd".repeat(32);
const PIECE_LENGTH = 3 * 1024 * 1024 + 777;
const OFFSET = 4 * 1024 * 1024;

let dir = "";
let path = "";
let content = new Uint8Array(0);
let inflight: InflightPieces;
let server: VortexServer;
const metrics = createTransportMetrics();

function metadata(digest = ""): PieceMetadata {
  return { number: 1, offset: OFFSET, length: PIECE_LENGTH, digest, parentId: "", trafficType: 1, costSeconds: 0, createdAtSeconds: 1_700_000_000 };
}

/** Writes `[from, to)` of the piece into the content file and reports it, as a fetcher does. */
function land(piece: InflightPiece, from: number, to: number): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, content, from, to - from, OFFSET + from);
  } finally {
    closeSync(fd);
  }
  piece.advanceTo(OFFSET + to);
}

/** Starts piece 1 in flight and a streamed download of it; resolves once the child holds the first `bytes`. */
async function streamFirstBytes(bytes: number) {
  const piece = inflight.begin(TASK_ID, 1, OFFSET, PIECE_LENGTH);
  let got = 0;
  const download = downloadPieceExtended({
    host: "127.0.0.1",
    port: server.port,
    taskId: TASK_ID,
    number: 1,
    hello: { acceptsZstd: false, plainRate: 0, compressedRate: 0, acceptsStreamed: true },
    write: (chunk) => void (got += chunk.length),
  });
  download.catch(() => {});
  land(piece, 0, bytes);
  while (got < bytes) await new Promise((resolve) => setTimeout(resolve, 5));
  return { piece, download };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vortex-streamed-"));
  path = join(dir, "content");
  const fd = openSync(path, "w+");
  ftruncateSync(fd, OFFSET + PIECE_LENGTH);
  closeSync(fd);
  content = new Uint8Array(PIECE_LENGTH);
  for (let i = 0; i < content.length; i++) content[i] = (i * 131 + (i >>> 9)) & 0xff;
  inflight = new InflightPieces();
  server = createVortexServer({
    host: "127.0.0.1",
    port: 0,
    log: createLogger({ test: "streamed" }),
    metrics,
    async resolvePiece(taskId, number, _kind, { streamed }) {
      const piece = inflight.get(taskId, number);
      if (!piece || piece.outcome) throw new PieceNotFound(taskId, number);
      // Offered even to a client that did not accept streaming: the server itself must refuse that.
      void streamed;
      return { path, offset: OFFSET, metadata: metadata(), inflight: piece };
    },
  });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("streamed pieces over Vortex", () => {
  test("a child receives a piece's first bytes before the parent has the rest, then the digest, byte for byte", async () => {
    const piece = inflight.begin(TASK_ID, 1, OFFSET, PIECE_LENGTH);
    const received = new Uint8Array(PIECE_LENGTH);
    let got = 0;
    const before = await metrics.registry.render();
    const transport = createTcpPieceTransport({ metrics });
    const download = transport.download({
      host: "127.0.0.1",
      port: server.port,
      taskId: TASK_ID,
      number: 1,
      streamed: true,
      write(chunk, position) {
        received.set(chunk, position - OFFSET);
        got += chunk.length;
      },
    });
    land(piece, 0, 1000);
    // The first thousand bytes reach the child while the parent holds nothing more.
    while (got < 1000) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(got).toBe(1000);
    land(piece, 1000, 2_000_000);
    land(piece, 2_000_000, PIECE_LENGTH);
    inflight.end(piece, { kind: "finished", digest: pieceDigest(crc32(content)) });
    const result = await download;
    expect(result.metadata.digest).toBe(pieceDigest(crc32(content)));
    expect(result.crc32).toBe(crc32(content));
    expect(Buffer.compare(received, content)).toBe(0);
    const after = await metrics.registry.render();
    expect(after).toContain('libellula_streamed_pieces_total{direction="download"} 1');
    expect(after).toContain('libellula_streamed_pieces_total{direction="upload"} 1');
    expect(before).not.toContain("libellula_streamed_pieces_total{");
  });

  test("the parent's copy failing mid-piece reaches the child as StreamedPieceAborted with the reason", async () => {
    const { piece, download } = await streamFirstBytes(500_000);
    inflight.end(piece, { kind: "failed", reason: "the parent's parent went away" });
    const error = await download.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamedPieceAborted);
    expect(String(error)).toContain("the parent's parent went away");
  });

  test("a digest that does not match the streamed bytes is a DigestMismatch", async () => {
    const { piece, download } = await streamFirstBytes(1000);
    land(piece, 1000, PIECE_LENGTH);
    inflight.end(piece, { kind: "finished", digest: "crc32:12345" });
    const error = await download.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatch);
  });

  test("a plain Vortex client never gets a piece still arriving: it is not found", async () => {
    const piece = inflight.begin(TASK_ID, 1, OFFSET, PIECE_LENGTH);
    const error = await downloadPiece({ host: "127.0.0.1", port: server.port, taskId: TASK_ID, number: 1, write: () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PieceNotFound);
    inflight.end(piece, { kind: "failed", reason: "test over" });
  });
});

describe("the streamed wire format", () => {
  const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
  function frames(): Uint8Array[] {
    const meta: PieceMetadata = { ...metadata(), length: bytes.length };
    const data = (from: number, to: number) => {
      const frame = new Uint8Array(STREAMED_DATA_HEADROOM + to - from);
      frame.set(bytes.subarray(from, to), STREAMED_DATA_HEADROOM);
      return sealStreamedData(frame);
    };
    return [encodeStreamedContentHead(meta), data(0, 1), data(1, 3000), data(3000, 5000), encodeStreamedEnd(pieceDigest(crc32(bytes)))];
  }

  test("split at every byte, the parser yields the bytes in order, the digest and the end", () => {
    const wire = Buffer.concat(frames());
    for (const step of [1, 7, 4096, wire.length]) {
      const parser = new ExtendedResponseParser();
      const events: ExtendedResponseEvent[] = [];
      for (let at = 0; at < wire.length; at += step) events.push(...parser.push(wire.subarray(at, at + step)));
      const data = Buffer.concat(events.flatMap((e) => (e.type === "content" ? [e.bytes] : [])));
      expect(Buffer.compare(data, bytes)).toBe(0);
      expect(events.filter((e) => e.type === "streamEnd")).toEqual([{ type: "streamEnd", digest: pieceDigest(crc32(bytes)) }]);
      expect(events.at(-1)).toEqual({ type: "end" });
      expect(parser.done).toBe(true);
    }
  });

  test("an error frame mid-piece is an error event", () => {
    const [head, first] = frames();
    const events = new ExtendedResponseParser().push(Buffer.concat([head!, first!, encodeErrorFrame(ErrorCode.Internal, "gone")]));
    expect(events.at(-1)).toEqual({ type: "error", error: { code: ErrorCode.Internal, message: "gone" } });
  });

  test("malformed streams are refused: too much data, an early end, a digest up front, an unknown frame", () => {
    const [head, a, b, c, end] = frames();
    const extra = sealStreamedData(new Uint8Array(STREAMED_DATA_HEADROOM + 10));
    expect(() => new ExtendedResponseParser().push(Buffer.concat([head!, a!, b!, c!, extra]))).toThrow(InvalidArgument);
    expect(() => new ExtendedResponseParser().push(Buffer.concat([head!, a!, end!]))).toThrow(/ended 4999 bytes short/);
    // encodeStreamedContentHead always clears the digest: build a head that carries one by hand.
    const value = encodePieceMetadata({ ...metadata("crc32:1"), length: 10 });
    const withDigest = new Uint8Array(6 + value.length);
    withDigest.set([1, 229]);
    new DataView(withDigest.buffer).setUint32(2, value.length);
    withDigest.set(value, 6);
    expect(() => new ExtendedResponseParser().push(withDigest)).toThrow(/digest at the end/);
    const unknown = Uint8Array.of(1, 240, 0, 0, 0, 0);
    expect(() => new ExtendedResponseParser().push(Buffer.concat([head!, unknown]))).toThrow(/unexpected tag 240/);
    expect(() => encodeStreamedEnd("sha256:abc")).toThrow(InvalidArgument);
  });
});
