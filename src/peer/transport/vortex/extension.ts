/**
 * Libellula's Vortex extension: frames with tags from the reserved range (8–253) that only peers which asked
 * for them ever see. A client that wants the extension sends a Hello frame before its DownloadPiece request;
 * a server that understands it answers with a HelloAck before the content. A plain Dragonfly server answers the
 * Hello with an error (or closes), and the client then asks again with plain Vortex; a plain client never sends a
 * Hello, so it only ever gets plain Vortex.
 *
 * Tags:
 * - 224 Hello (client → server): version u8, flags u8 (bit 0 accepts zstd, bit 1 offers RDMA), plain rate u64 and
 *   compressed rate u64 (bytes of piece per second this client measured from this server, 0 unknown), then the
 *   client's RDMA endpoint when offered.
 * - 225 HelloAck (server → client): version u8, flags u8 (bit 0 may compress, bit 1 RDMA accepted, bit 2 this task's
 *   pieces do not compress, so the client may ask for them plainly), the server's
 *   RDMA endpoint when accepted, then a u16-prefixed UTF-8 reason when RDMA was offered but refused.
 * - 226 CompressedPieceContent: a PieceContent value, codec u8 (1 zstd), block size u32; then blocks, each
 *   codec u8 (0 stored as is, 1 zstd), raw length u32, stored length u32 and the stored bytes, until the raw
 *   lengths add up to the piece length. The header length counts the value only, as for PieceContent.
 * - 227 RdmaPieceContent: a PieceContent value, remote address u64, rkey u32; the client reads the bytes itself.
 * - 228 RdmaDone (client → server): status u8 (0 read, 1 failed); the server may release the piece's buffer.
 * - 229 StreamedPieceContent: a PieceContent value whose digest is empty, for a piece the server is still receiving
 *   (Hello flag bit 2 says the client accepts these). Then frames with the usual 6-byte header: 230 StreamedData
 *   (raw bytes, at most MAX_BLOCK_SIZE per frame) until their lengths add up to the piece length, then 231
 *   StreamedEnd, whose value is the piece's `crc32:<decimal>` digest as the server verified it; or, at any point
 *   before StreamedEnd, a plain Error frame when the server's own copy of the piece failed. Children thus relay a
 *   piece while it arrives instead of a whole piece time later at every hop.
 */
import { InvalidArgument } from "../../../common/errors.ts";
import {
  decodeErrorValue,
  decodeHeader,
  decodePieceMetadata,
  encodePieceMetadata,
  HEADER_SIZE,
  MAX_METADATA_SIZE,
  PIECE_KIND_TAGS,
  PieceRequestParser,
  PieceResponseParser,
  randomPacketId,
  Tag,
  type PieceKind,
  type PieceMetadata,
  type PieceRequest,
  type ResponseEvent,
} from "./codec.ts";

/** Extension frame tags, from the reserved range. */
export const ExtensionTag = {
  Hello: 224,
  HelloAck: 225,
  CompressedPieceContent: 226,
  RdmaPieceContent: 227,
  RdmaDone: 228,
  StreamedPieceContent: 229,
  StreamedData: 230,
  StreamedEnd: 231,
} as const;

/** Version of the extension this code speaks. */
export const EXTENSION_VERSION = 1;
/** Codec numbers of compressed blocks. */
export const BlockCodec = { Stored: 0, Zstd: 1 } as const;
/** Bytes of a compressed block's header: codec u8, raw length u32, stored length u32. */
export const BLOCK_HEADER_SIZE = 9;
/** Largest block size a receiver accepts; senders use 1 MiB. */
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024;
/** Bytes of an RDMA endpoint: lid u16, port u8, mtu u8, qpn u32, psn u32, gid[16]. */
export const RDMA_ENDPOINT_SIZE = 28;
/** Largest Hello or HelloAck value accepted. */
const MAX_HELLO_SIZE = 4096;

/** Where a queue pair can be reached: what two peers exchange before RDMA. */
export interface RdmaEndpoint {
  lid: number;
  port: number;
  /** ibv_mtu enum value (1 = 256 … 5 = 4096). */
  mtu: number;
  qpn: number;
  psn: number;
  gid: Uint8Array;
}

/** What a client asks for on one connection. */
export interface Hello {
  version: number;
  acceptsZstd: boolean;
  /** Piece bytes per second this client measured from this server, uncompressed transfers; 0 unknown. */
  plainRate: number;
  /** The same over compressed transfers; 0 unknown. */
  compressedRate: number;
  rdma?: RdmaEndpoint;
  /** The client takes a piece the server is still receiving, as StreamedPieceContent. */
  acceptsStreamed?: boolean;
}

/** What a server grants on one connection. */
export interface HelloAck {
  version: number;
  mayCompress: boolean;
  /** The server found this task's pieces not worth compressing: the client may ask for the rest plainly. */
  incompressible?: boolean;
  rdma?: RdmaEndpoint;
  /** Why RDMA was refused, when the client offered it. */
  rdmaRefusal?: string;
}

/** Where the client reads an RDMA piece from. */
export interface RdmaRemoteBuffer {
  address: bigint;
  rkey: number;
}

const encoder = new TextEncoder();
const MAX_U32 = 0xffffffff;

function invalid(detail: string): InvalidArgument {
  return new InvalidArgument(`Invalid Vortex extension frame: ${detail}`);
}

function frame(tag: number, value: Uint8Array, packetId = randomPacketId()): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + value.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, packetId);
  view.setUint8(1, tag);
  view.setUint32(2, value.length);
  out.set(value, HEADER_SIZE);
  return out;
}

function rate(value: number): bigint {
  return BigInt(Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, Math.round(Number.isFinite(value) ? value : 0))));
}

function writeEndpoint(view: DataView, bytes: Uint8Array, at: number, endpoint: RdmaEndpoint): void {
  if (endpoint.gid.length !== 16) throw new InvalidArgument(`Invalid RDMA GID: expected 16 bytes, got ${endpoint.gid.length}`);
  view.setUint16(at, endpoint.lid);
  view.setUint8(at + 2, endpoint.port);
  view.setUint8(at + 3, endpoint.mtu);
  view.setUint32(at + 4, endpoint.qpn);
  view.setUint32(at + 8, endpoint.psn);
  bytes.set(endpoint.gid, at + 12);
}

function readEndpoint(view: DataView, bytes: Uint8Array, at: number): RdmaEndpoint {
  if (at + RDMA_ENDPOINT_SIZE > bytes.length) throw invalid("RDMA endpoint is truncated");
  return {
    lid: view.getUint16(at),
    port: view.getUint8(at + 2),
    mtu: view.getUint8(at + 3),
    qpn: view.getUint32(at + 4),
    psn: view.getUint32(at + 8),
    gid: bytes.slice(at + 12, at + 28),
  };
}

/** Encodes a whole Hello frame. */
export function encodeHello(hello: Omit<Hello, "version">): Uint8Array {
  const value = new Uint8Array(18 + (hello.rdma ? RDMA_ENDPOINT_SIZE : 0));
  const view = new DataView(value.buffer);
  view.setUint8(0, EXTENSION_VERSION);
  view.setUint8(1, (hello.acceptsZstd ? 1 : 0) | (hello.rdma ? 2 : 0) | (hello.acceptsStreamed ? 4 : 0));
  view.setBigUint64(2, rate(hello.plainRate));
  view.setBigUint64(10, rate(hello.compressedRate));
  if (hello.rdma) writeEndpoint(view, value, 18, hello.rdma);
  return frame(ExtensionTag.Hello, value);
}

/** Decodes a Hello value; later versions may append fields, which are ignored. */
export function decodeHelloValue(value: Uint8Array): Hello {
  if (value.length < 18) throw invalid(`hello needs at least 18 bytes, got ${value.length}`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const flags = view.getUint8(1);
  const hello: Hello = {
    version: view.getUint8(0),
    acceptsZstd: (flags & 1) !== 0,
    plainRate: Number(view.getBigUint64(2)),
    compressedRate: Number(view.getBigUint64(10)),
  };
  if (flags & 2) hello.rdma = readEndpoint(view, value, 18);
  if (flags & 4) hello.acceptsStreamed = true;
  return hello;
}

/** Encodes a whole HelloAck frame. */
export function encodeHelloAck(ack: Omit<HelloAck, "version">): Uint8Array {
  const reason = ack.rdmaRefusal !== undefined && !ack.rdma ? encoder.encode(ack.rdmaRefusal).subarray(0, 1024) : undefined;
  const value = new Uint8Array(2 + (ack.rdma ? RDMA_ENDPOINT_SIZE : 0) + (reason ? 2 + reason.length : 0));
  const view = new DataView(value.buffer);
  view.setUint8(0, EXTENSION_VERSION);
  view.setUint8(1, (ack.mayCompress ? 1 : 0) | (ack.rdma ? 2 : 0) | (ack.incompressible ? 4 : 0));
  let at = 2;
  if (ack.rdma) {
    writeEndpoint(view, value, at, ack.rdma);
    at += RDMA_ENDPOINT_SIZE;
  }
  if (reason) {
    view.setUint16(at, reason.length);
    value.set(reason, at + 2);
  }
  return frame(ExtensionTag.HelloAck, value);
}

/** Decodes a HelloAck value. */
export function decodeHelloAckValue(value: Uint8Array): HelloAck {
  if (value.length < 2) throw invalid(`hello ack needs at least 2 bytes, got ${value.length}`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const flags = view.getUint8(1);
  const ack: HelloAck = { version: view.getUint8(0), mayCompress: (flags & 1) !== 0 };
  if (flags & 4) ack.incompressible = true;
  let at = 2;
  if (flags & 2) {
    ack.rdma = readEndpoint(view, value, at);
    at += RDMA_ENDPOINT_SIZE;
  } else if (at + 2 <= value.length) {
    const length = view.getUint16(at);
    if (at + 2 + length > value.length) throw invalid("RDMA refusal reason is truncated");
    ack.rdmaRefusal = new TextDecoder().decode(value.subarray(at + 2, at + 2 + length));
  }
  return ack;
}

/** Encodes the head of a compressed content frame: header, metadata, codec and block size. */
export function encodeCompressedContentHead(metadata: PieceMetadata, blockSize: number): Uint8Array {
  const meta = encodePieceMetadata(metadata);
  const value = new Uint8Array(meta.length + 5);
  value.set(meta);
  const view = new DataView(value.buffer);
  view.setUint8(meta.length, BlockCodec.Zstd);
  view.setUint32(meta.length + 1, blockSize);
  return frame(ExtensionTag.CompressedPieceContent, value);
}

/** Encodes one block of a compressed piece: its 9-byte header followed by the stored bytes. */
export function encodeBlock(codec: number, rawLength: number, stored: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK_HEADER_SIZE + stored.length);
  out.set(encodeBlockHeader(codec, rawLength, stored.length));
  out.set(stored, BLOCK_HEADER_SIZE);
  return out;
}

/** Encodes the 9-byte header of a block alone, for a sender that writes the stored bytes after it as they are. */
export function encodeBlockHeader(codec: number, rawLength: number, storedLength: number): Uint8Array {
  if (rawLength < 1 || rawLength > MAX_U32) throw new InvalidArgument(`Invalid block raw length ${rawLength}`);
  const out = new Uint8Array(BLOCK_HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setUint8(0, codec);
  view.setUint32(1, rawLength);
  view.setUint32(5, storedLength);
  return out;
}

/** Encodes a whole RdmaPieceContent frame. */
export function encodeRdmaContent(metadata: PieceMetadata, remote: RdmaRemoteBuffer): Uint8Array {
  const meta = encodePieceMetadata(metadata);
  const value = new Uint8Array(meta.length + 12);
  value.set(meta);
  const view = new DataView(value.buffer);
  view.setBigUint64(meta.length, remote.address);
  view.setUint32(meta.length + 8, remote.rkey);
  return frame(ExtensionTag.RdmaPieceContent, value);
}

/** Encodes the StreamedPieceContent frame that starts a streamed piece; the metadata's digest is sent at the end. */
export function encodeStreamedContentHead(metadata: PieceMetadata): Uint8Array {
  return frame(ExtensionTag.StreamedPieceContent, encodePieceMetadata({ ...metadata, digest: "" }));
}

/** Bytes before the data of a StreamedData frame: callers may read the data in place after them. */
export const STREAMED_DATA_HEADROOM = HEADER_SIZE;

/**
 * Fills the first STREAMED_DATA_HEADROOM bytes of `frameBytes` with the header of a StreamedData frame carrying the
 * rest of it, and returns it: the data is read into place after the headroom, so it is never copied.
 */
export function sealStreamedData(frameBytes: Uint8Array): Uint8Array {
  const length = frameBytes.length - HEADER_SIZE;
  if (length < 1 || length > MAX_BLOCK_SIZE) throw new InvalidArgument(`Invalid streamed data length ${length}`);
  const view = new DataView(frameBytes.buffer, frameBytes.byteOffset, HEADER_SIZE);
  view.setUint8(0, randomPacketId());
  view.setUint8(1, ExtensionTag.StreamedData);
  view.setUint32(2, length);
  return frameBytes;
}

/** Encodes the StreamedEnd frame carrying the piece's digest. */
export function encodeStreamedEnd(digest: string): Uint8Array {
  if (!/^crc32:\d{1,10}$/.test(digest)) throw new InvalidArgument(`Invalid streamed piece digest "${digest}"`);
  return frame(ExtensionTag.StreamedEnd, encoder.encode(digest));
}

/** Encodes a whole RdmaDone frame. */
export function encodeRdmaDone(ok: boolean): Uint8Array {
  return frame(ExtensionTag.RdmaDone, Uint8Array.of(ok ? 0 : 1));
}

/** Splits a value into the PieceContent metadata at its front and the bytes after it. */
function splitMetadata(value: Uint8Array, extra: number): { metadata: PieceMetadata; rest: Uint8Array } {
  if (value.length < 4 + extra) throw invalid(`content value of ${value.length} bytes is too short`);
  const metadataLength = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
  if (4 + metadataLength + extra !== value.length) {
    throw invalid(`metadata_length ${metadataLength} does not fit a ${value.length}-byte value`);
  }
  return { metadata: decodePieceMetadata(value.subarray(0, 4 + metadataLength)), rest: value.subarray(4 + metadataLength) };
}

/** Reads exact byte counts out of a stream of chunks. */
class Reader {
  #parts: Uint8Array[] = [];
  #size = 0;

  add(chunk: Uint8Array): void {
    if (chunk.length > 0) {
      this.#parts.push(chunk);
      this.#size += chunk.length;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Takes exactly `n` bytes, or undefined when fewer are buffered. */
  take(n: number): Uint8Array | undefined {
    if (n > this.#size) return undefined;
    const first = this.#parts[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
      this.#size -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const part = this.#parts[0] as Uint8Array;
      const take = Math.min(part.length, n - at);
      out.set(part.subarray(0, take), at);
      at += take;
      if (take === part.length) this.#parts.shift();
      else this.#parts[0] = part.subarray(take);
    }
    this.#size -= n;
    return out;
  }

  /** Everything buffered, as consecutive chunks, and a reset. */
  drain(): Uint8Array[] {
    const parts = this.#parts;
    this.#parts = [];
    this.#size = 0;
    return parts;
  }
}

/** Reads the 6-byte header of an extension frame (the codec's decoder refuses these tags). */
function readHeader(bytes: Uint8Array): { tag: number; length: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  return { tag: view.getUint8(1), length: view.getUint32(2) };
}

/** What the serving side parsed from a connection: an optional Hello and the request. */
export interface ExtendedRequest {
  hello?: Hello;
  request: PieceRequest;
}

/**
 * Parses what a client sends on a connection, as the serving side sees it: an optional Hello, then a plain
 * Vortex request (which the codec's PieceRequestParser checks exactly as for any client).
 */
export class ExtendedRequestParser {
  #reader = new Reader();
  #hello: Hello | undefined;
  #sawFirst = false;
  #plain = new PieceRequestParser();

  /** Feeds bytes; returns the request when complete, `close` for a Close frame, else undefined. */
  push(chunk: Uint8Array): ExtendedRequest | "close" | undefined {
    if (!this.#sawFirst) {
      this.#reader.add(chunk);
      const head = this.#reader.size >= HEADER_SIZE ? this.#reader.take(HEADER_SIZE) : undefined;
      if (!head) return undefined;
      const header = readHeader(head);
      if (header.tag !== ExtensionTag.Hello) {
        this.#sawFirst = true;
        return this.#pushPlain([head, ...this.#reader.drain()]);
      }
      if (header.length > MAX_HELLO_SIZE) throw invalid(`hello length ${header.length} is too large`);
      const value = this.#reader.take(header.length);
      if (!value) {
        // Put the header back until the whole value is here.
        const rest = this.#reader.drain();
        this.#reader.add(head.slice());
        for (const part of rest) this.#reader.add(part);
        return undefined;
      }
      this.#hello = decodeHelloValue(value);
      this.#sawFirst = true;
      return this.#pushPlain(this.#reader.drain());
    }
    return this.#pushPlain([chunk]);
  }

  #pushPlain(chunks: Uint8Array[]): ExtendedRequest | "close" | undefined {
    let result: PieceRequest | "close" | undefined;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      if (result !== undefined) throw new InvalidArgument(`Invalid Vortex frame: ${chunk.length} unexpected bytes after the request`);
      result = this.#plain.push(chunk);
    }
    if (result === undefined || result === "close") return result;
    return this.#hello ? { hello: this.#hello, request: result } : { request: result };
  }
}

/** What a response yields, as the downloading side sees it. */
export type ExtendedResponseEvent =
  | ResponseEvent
  | { type: "ack"; ack: HelloAck }
  | { type: "compressed"; metadata: PieceMetadata; blockSize: number }
  | { type: "block"; codec: number; rawLength: number; stored: Uint8Array }
  | { type: "rdma"; metadata: PieceMetadata; remote: RdmaRemoteBuffer }
  | { type: "streamed"; metadata: PieceMetadata }
  | { type: "streamEnd"; digest: string };

/**
 * Parses one response after a Hello: a HelloAck (absent when the server does not speak the extension), then a
 * plain content frame, a compressed one, an RDMA one, or an error. Plain frames go through the codec's
 * PieceResponseParser, so they are checked exactly as without the extension. Block lengths are checked against
 * the piece length here: a block may never claim more raw bytes than the piece has left.
 */
export class ExtendedResponseParser {
  readonly #contentTag: number;
  readonly #reader = new Reader();
  #state: "first" | "content" | "plain" | "blocks" | "streamed" | "done" = "first";
  #plain: PieceResponseParser;
  #rawLeft = 0;
  #blockSize = 0;
  #block: { codec: number; rawLength: number; storedLength: number } | undefined;
  /** Bytes of the StreamedData frame being read that have not arrived yet. */
  #dataLeft = 0;

  constructor(kind: PieceKind = "standard") {
    this.#contentTag = PIECE_KIND_TAGS[kind].content;
    this.#plain = new PieceResponseParser(kind);
  }

  /** Whether the whole response has been parsed. */
  get done(): boolean {
    return this.#state === "done" || (this.#state === "plain" && this.#plain.done);
  }

  /** Feeds bytes and returns the events they complete; throws InvalidArgument on a malformed stream. */
  push(chunk: Uint8Array): ExtendedResponseEvent[] {
    const events: ExtendedResponseEvent[] = [];
    if (this.#state === "plain") return this.#plain.push(chunk);
    if (this.#state === "done") throw invalid(`${chunk.length} unexpected bytes after the response`);
    this.#reader.add(chunk);
    while (this.#step(events)) {
      const state = this.#state as string;
      if (state === "plain") {
        for (const part of this.#reader.drain()) events.push(...this.#plain.push(part));
        return events;
      }
      if (state === "done") {
        if (this.#reader.size > 0) throw invalid(`${this.#reader.size} unexpected bytes after the response`);
        break;
      }
    }
    return events;
  }

  /** Takes one frame or block when enough bytes are buffered; false when more are needed. */
  #step(events: ExtendedResponseEvent[]): boolean {
    if (this.#state === "blocks") return this.#stepBlock(events);
    if (this.#state === "streamed") return this.#stepStreamed(events);
    if (this.#reader.size < HEADER_SIZE) return false;
    const head = this.#reader.take(HEADER_SIZE) as Uint8Array;
    const header = readHeader(head);
    const isExtension =
      header.tag === ExtensionTag.CompressedPieceContent ||
      header.tag === ExtensionTag.RdmaPieceContent ||
      header.tag === ExtensionTag.StreamedPieceContent;
    if (this.#state === "first" && header.tag === ExtensionTag.HelloAck) {
      if (header.length > MAX_HELLO_SIZE) throw invalid(`hello ack length ${header.length} is too large`);
      const value = this.#reader.take(header.length);
      if (!value) return this.#unread(head);
      events.push({ type: "ack", ack: decodeHelloAckValue(value) });
      this.#state = "content";
      return true;
    }
    if (!isExtension) {
      // A plain frame (content or error), checked by the codec's parser; decodeHeader refuses unknown tags.
      decodeHeader(head);
      const rest = this.#reader.drain();
      this.#reader.add(head.slice());
      for (const part of rest) this.#reader.add(part);
      this.#state = "plain";
      return true;
    }
    if (header.length > MAX_METADATA_SIZE) throw invalid(`value length ${header.length} is too large`);
    const value = this.#reader.take(header.length);
    if (!value) return this.#unread(head);
    if (header.tag === ExtensionTag.StreamedPieceContent) {
      const { metadata } = splitMetadata(value, 0);
      if (metadata.digest !== "") throw invalid("a streamed piece carries its digest at the end, not in its metadata");
      this.#rawLeft = metadata.length;
      events.push({ type: "streamed", metadata });
      this.#state = "streamed";
      return true;
    }
    if (header.tag === ExtensionTag.RdmaPieceContent) {
      const { metadata, rest } = splitMetadata(value, 12);
      const view = new DataView(rest.buffer, rest.byteOffset, rest.byteLength);
      events.push({ type: "rdma", metadata, remote: { address: view.getBigUint64(0), rkey: view.getUint32(8) } });
      this.#state = "done";
      return true;
    }
    const { metadata, rest } = splitMetadata(value, 5);
    const view = new DataView(rest.buffer, rest.byteOffset, rest.byteLength);
    const codec = view.getUint8(0);
    const blockSize = view.getUint32(1);
    if (codec !== BlockCodec.Zstd) throw invalid(`unsupported compression codec ${codec}`);
    if (blockSize < 1 || blockSize > MAX_BLOCK_SIZE) throw invalid(`block size ${blockSize} is outside 1 to ${MAX_BLOCK_SIZE}`);
    this.#blockSize = blockSize;
    this.#rawLeft = metadata.length;
    events.push({ type: "compressed", metadata, blockSize });
    if (metadata.length === 0) {
      this.#state = "done";
      events.push({ type: "end" });
    } else {
      this.#state = "blocks";
    }
    return true;
  }

  #stepBlock(events: ExtendedResponseEvent[]): boolean {
    if (!this.#block) {
      const head = this.#reader.take(BLOCK_HEADER_SIZE);
      if (!head) return false;
      const view = new DataView(head.buffer, head.byteOffset, BLOCK_HEADER_SIZE);
      const block = { codec: view.getUint8(0), rawLength: view.getUint32(1), storedLength: view.getUint32(5) };
      if (block.codec !== BlockCodec.Stored && block.codec !== BlockCodec.Zstd) throw invalid(`unknown block codec ${block.codec}`);
      if (block.rawLength < 1 || block.rawLength > this.#blockSize) {
        throw invalid(`block raw length ${block.rawLength} is outside 1 to the block size ${this.#blockSize}`);
      }
      if (block.rawLength > this.#rawLeft) {
        throw invalid(`block claims ${block.rawLength} raw bytes but the piece has ${this.#rawLeft} left`);
      }
      if (block.codec === BlockCodec.Stored ? block.storedLength !== block.rawLength : block.storedLength > block.rawLength) {
        throw invalid(`block stores ${block.storedLength} bytes for ${block.rawLength} raw bytes`);
      }
      this.#block = block;
    }
    const stored = this.#reader.take(this.#block.storedLength);
    if (!stored) return false;
    const { codec, rawLength } = this.#block;
    this.#block = undefined;
    this.#rawLeft -= rawLength;
    events.push({ type: "block", codec, rawLength, stored });
    if (this.#rawLeft === 0) {
      this.#state = "done";
      events.push({ type: "end" });
    }
    return true;
  }

  /** One step of a streamed piece: data as it arrives (never copied), then its end or an error frame. */
  #stepStreamed(events: ExtendedResponseEvent[]): boolean {
    if (this.#dataLeft > 0) {
      if (this.#reader.size === 0) return false;
      const parts = this.#reader.drain();
      let i = 0;
      while (i < parts.length && this.#dataLeft > 0) {
        const part = parts[i++] as Uint8Array;
        const take = Math.min(part.length, this.#dataLeft);
        events.push({ type: "content", bytes: take === part.length ? part : part.subarray(0, take) });
        this.#dataLeft -= take;
        this.#rawLeft -= take;
        if (take < part.length) this.#reader.add(part.subarray(take));
      }
      while (i < parts.length) this.#reader.add(parts[i++] as Uint8Array);
      return true;
    }
    if (this.#reader.size < HEADER_SIZE) return false;
    const head = this.#reader.take(HEADER_SIZE) as Uint8Array;
    const header = readHeader(head);
    if (header.tag === ExtensionTag.StreamedData) {
      if (header.length < 1 || header.length > MAX_BLOCK_SIZE) throw invalid(`streamed data length ${header.length} is outside 1 to ${MAX_BLOCK_SIZE}`);
      if (header.length > this.#rawLeft) throw invalid(`streamed data of ${header.length} bytes but the piece has ${this.#rawLeft} left`);
      this.#dataLeft = header.length;
      return true;
    }
    if (header.tag === ExtensionTag.StreamedEnd) {
      if (header.length > 64) throw invalid(`streamed end length ${header.length} is too large`);
      const value = this.#reader.take(header.length);
      if (!value) return this.#unread(head);
      if (this.#rawLeft !== 0) throw invalid(`streamed piece ended ${this.#rawLeft} bytes short`);
      const digest = new TextDecoder().decode(value);
      if (!/^crc32:\d{1,10}$/.test(digest)) throw invalid(`streamed end carries an invalid digest "${digest}"`);
      events.push({ type: "streamEnd", digest }, { type: "end" });
      this.#state = "done";
      return true;
    }
    if (header.tag === Tag.Error) {
      if (header.length > MAX_METADATA_SIZE) throw invalid(`error length ${header.length} is too large`);
      const value = this.#reader.take(header.length);
      if (!value) return this.#unread(head);
      events.push({ type: "error", error: decodeErrorValue(value) });
      this.#state = "done";
      return true;
    }
    throw invalid(`unexpected tag ${header.tag} in a streamed piece`);
  }

  #unread(head: Uint8Array): false {
    const rest = this.#reader.drain();
    this.#reader.add(head.slice());
    for (const part of rest) this.#reader.add(part);
    return false;
  }
}
