/** The Vortex piece-transfer wire format: frame headers, requests, piece metadata and error frames. */
import { InvalidArgument } from "../../../common/errors.ts";

/** Bytes in a frame header: packet_id u8, tag u8, length u32 BE. */
export const HEADER_SIZE = 6;

/** Bytes in a DownloadPiece value: a 64-character task ID and a u32 BE piece number. */
export const DOWNLOAD_PIECE_VALUE_SIZE = 68;

/** Characters in a task ID (hex SHA-256). */
export const TASK_ID_LENGTH = 64;

/** Largest metadata block or error message this codec accepts; real ones are a few hundred bytes. */
export const MAX_METADATA_SIZE = 1024 * 1024;

/** Traffic type the serving side reports: the piece came from a remote peer. */
export const TRAFFIC_TYPE_REMOTE_PEER = 1;

/** Frame tags. */
export const Tag = {
  DownloadPiece: 0,
  PieceContent: 1,
  DownloadPersistentPiece: 2,
  PersistentPieceContent: 3,
  DownloadPersistentCachePiece: 4,
  PersistentCachePieceContent: 5,
  DownloadCachePiece: 6,
  CachePieceContent: 7,
  Close: 254,
  Error: 255,
} as const;

/** A frame tag value. */
export type Tag = (typeof Tag)[keyof typeof Tag];

/** Error frame codes. */
export const ErrorCode = {
  Unknown: 0,
  InvalidArgument: 1,
  NotFound: 2,
  Internal: 3,
} as const;

/** An error frame code value (4–255 are reserved but decoded as-is). */
export type ErrorCode = number;

/** Which family of pieces a request asks for; each has its own pair of tags. */
export type PieceKind = "standard" | "persistent" | "persistentCache";

/** The request and content tags of each piece kind. */
export const PIECE_KIND_TAGS: Readonly<Record<PieceKind, { request: number; content: number }>> = {
  standard: { request: Tag.DownloadPiece, content: Tag.PieceContent },
  persistent: { request: Tag.DownloadPersistentPiece, content: Tag.PersistentPieceContent },
  persistentCache: { request: Tag.DownloadPersistentCachePiece, content: Tag.PersistentCachePieceContent },
};

/** A decoded frame header. */
export interface FrameHeader {
  packetId: number;
  tag: number;
  /** Bytes of value that the header counts (for content frames, the metadata block only). */
  length: number;
}

/** A request for one piece. */
export interface PieceRequest {
  kind: PieceKind;
  taskId: string;
  number: number;
}

/** The metadata that precedes a piece's raw bytes. */
export interface PieceMetadata {
  /** Piece number within the task. */
  number: number;
  /** Byte offset of the piece within the task's content. */
  offset: number;
  /** Bytes of raw content that follow the metadata. */
  length: number;
  /** `crc32:<decimal>`, or empty when unknown. */
  digest: string;
  /** The peer this piece was downloaded from, or empty. */
  parentId: string;
  /** common.v2 TrafficType; servers send 1 (REMOTE_PEER). */
  trafficType: number;
  /** Time the piece took to download, in whole seconds. */
  costSeconds: number;
  /** When the piece was stored, in unix seconds. */
  createdAtSeconds: number;
}

/** A decoded error frame. */
export interface ErrorFrame {
  code: ErrorCode;
  message: string;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const TASK_ID_PATTERN = /^[0-9a-f]{64}$/;
const MAX_U32 = 0xffffffff;

function invalid(detail: string): InvalidArgument {
  return new InvalidArgument(`Invalid Vortex frame: ${detail}`);
}

function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new InvalidArgument(`Invalid Vortex ${name} ${value}: expected an integer from 0 to ${MAX_U32}`);
  }
}

function checkU8(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new InvalidArgument(`Invalid Vortex ${name} ${value}: expected an integer from 0 to 255`);
  }
}

function checkSafe(name: string, value: number, allowNegative = false): void {
  if (!Number.isSafeInteger(value) || (!allowNegative && value < 0)) {
    throw new InvalidArgument(`Invalid Vortex ${name} ${value}: expected a ${allowNegative ? "" : "non-negative "}safe integer`);
  }
}

function checkTaskId(taskId: string): void {
  if (!TASK_ID_PATTERN.test(taskId)) {
    throw new InvalidArgument(`Invalid Vortex task ID "${taskId}": expected 64 lowercase hex characters`);
  }
}

/** A random packet ID; nobody checks it, Dragonfly draws a fresh one per header. */
export function randomPacketId(): number {
  return Math.floor(Math.random() * 256);
}

/** Whether `tag` is one of the defined tags (0–7, 254, 255). */
export function isKnownTag(tag: number): boolean {
  return (tag >= 0 && tag <= 7) || tag === Tag.Close || tag === Tag.Error;
}

/** The piece kind a request tag asks for, or undefined for any other tag. */
export function kindOfRequestTag(tag: number): PieceKind | undefined {
  if (tag === Tag.DownloadPiece) return "standard";
  if (tag === Tag.DownloadPersistentPiece) return "persistent";
  if (tag === Tag.DownloadPersistentCachePiece) return "persistentCache";
  return undefined;
}

/** Writes a header into `target` at `at`. */
function writeHeader(target: Uint8Array, at: number, tag: number, length: number, packetId: number): void {
  checkU8("packet ID", packetId);
  checkU8("tag", tag);
  checkU32("frame length", length);
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint8(at, packetId);
  view.setUint8(at + 1, tag);
  view.setUint32(at + 2, length);
}

/** Encodes a 6-byte frame header. */
export function encodeHeader(tag: number, length: number, packetId = randomPacketId()): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  writeHeader(out, 0, tag, length, packetId);
  return out;
}

/** Decodes a 6-byte frame header; throws on an unknown tag. */
export function decodeHeader(bytes: Uint8Array): FrameHeader {
  if (bytes.length < HEADER_SIZE) throw invalid(`header needs ${HEADER_SIZE} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const header = { packetId: view.getUint8(0), tag: view.getUint8(1), length: view.getUint32(2) };
  if (!isKnownTag(header.tag)) throw invalid(`unknown tag ${header.tag}`);
  return header;
}

/** Encodes a DownloadPiece value: the task ID and the piece number. */
export function encodeDownloadPieceValue(taskId: string, number: number): Uint8Array {
  checkTaskId(taskId);
  checkU32("piece number", number);
  const out = new Uint8Array(DOWNLOAD_PIECE_VALUE_SIZE);
  encoder.encodeInto(taskId, out);
  new DataView(out.buffer).setUint32(TASK_ID_LENGTH, number);
  return out;
}

/** Decodes a DownloadPiece value (exactly 68 bytes). */
export function decodeDownloadPieceValue(value: Uint8Array): { taskId: string; number: number } {
  if (value.length !== DOWNLOAD_PIECE_VALUE_SIZE) {
    throw invalid(`download piece value must be ${DOWNLOAD_PIECE_VALUE_SIZE} bytes, got ${value.length}`);
  }
  let taskId = "";
  for (let i = 0; i < TASK_ID_LENGTH; i++) taskId += String.fromCharCode(value[i] as number);
  if (!TASK_ID_PATTERN.test(taskId)) throw invalid(`task ID ${JSON.stringify(taskId)} is not 64 lowercase hex characters`);
  const number = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(TASK_ID_LENGTH);
  return { taskId, number };
}

/** Encodes a whole request frame (header and DownloadPiece value, 74 bytes). */
export function encodePieceRequest(request: PieceRequest, packetId = randomPacketId()): Uint8Array {
  const value = encodeDownloadPieceValue(request.taskId, request.number);
  const out = new Uint8Array(HEADER_SIZE + value.length);
  writeHeader(out, 0, PIECE_KIND_TAGS[request.kind].request, value.length, packetId);
  out.set(value, HEADER_SIZE);
  return out;
}

/** Bytes of the fixed-size fields of a metadata block, after metadata_length. */
const METADATA_FIXED_SIZE = 4 + 8 + 8 + 4 + 4 + 1 + 8 + 8;

/** Encodes a PieceContent value (metadata_length and the metadata; the raw bytes are sent after it). */
export function encodePieceMetadata(metadata: PieceMetadata): Uint8Array {
  checkU32("piece number", metadata.number);
  checkSafe("piece offset", metadata.offset);
  checkSafe("piece length", metadata.length);
  checkU8("traffic type", metadata.trafficType);
  checkSafe("piece cost", metadata.costSeconds);
  checkSafe("piece created_at", metadata.createdAtSeconds, true);
  const digest = encoder.encode(metadata.digest);
  const parentId = encoder.encode(metadata.parentId);
  const metadataLength = METADATA_FIXED_SIZE + digest.length + parentId.length;
  if (metadataLength > MAX_METADATA_SIZE) throw new InvalidArgument(`Invalid Vortex metadata: ${metadataLength} bytes is too large`);
  const out = new Uint8Array(4 + metadataLength);
  const view = new DataView(out.buffer);
  let at = 0;
  view.setUint32(at, metadataLength);
  view.setUint32((at += 4), metadata.number);
  view.setBigUint64((at += 4), BigInt(metadata.offset));
  view.setBigUint64((at += 8), BigInt(metadata.length));
  view.setUint32((at += 8), digest.length);
  out.set(digest, (at += 4));
  view.setUint32((at += digest.length), parentId.length);
  out.set(parentId, (at += 4));
  view.setUint8((at += parentId.length), metadata.trafficType);
  view.setBigUint64((at += 1), BigInt(metadata.costSeconds));
  view.setBigInt64((at += 8), BigInt(metadata.createdAtSeconds));
  return out;
}

/** Encodes the head of a content frame: header and metadata block, ready for the raw bytes to follow. */
export function encodePieceContentHead(kind: PieceKind, metadata: PieceMetadata, packetId = randomPacketId()): Uint8Array {
  const value = encodePieceMetadata(metadata);
  const out = new Uint8Array(HEADER_SIZE + value.length);
  writeHeader(out, 0, PIECE_KIND_TAGS[kind].content, value.length, packetId);
  out.set(value, HEADER_SIZE);
  return out;
}

function readU64(view: DataView, at: number, name: string): number {
  const value = view.getBigUint64(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${name} ${value} is larger than this implementation supports`);
  return Number(value);
}

function readI64(view: DataView, at: number, name: string): number {
  const value = view.getBigInt64(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw invalid(`${name} ${value} is outside the range this implementation supports`);
  }
  return Number(value);
}

function readText(bytes: Uint8Array, name: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw invalid(`${name} is not valid UTF-8`);
  }
}

/** Decodes a PieceContent value: metadata_length then exactly that many metadata bytes. */
export function decodePieceMetadata(value: Uint8Array): PieceMetadata {
  if (value.length < 4 + METADATA_FIXED_SIZE) throw invalid(`piece metadata needs at least ${4 + METADATA_FIXED_SIZE} bytes, got ${value.length}`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const metadataLength = view.getUint32(0);
  if (metadataLength !== value.length - 4) {
    throw invalid(`metadata_length ${metadataLength} does not match the ${value.length - 4} bytes of metadata`);
  }
  let at = 4;
  const number = view.getUint32(at);
  const offset = readU64(view, (at += 4), "piece offset");
  const length = readU64(view, (at += 8), "piece length");
  const digestLength = view.getUint32((at += 8));
  at += 4;
  if (at + digestLength + 4 > value.length) throw invalid(`digest length ${digestLength} overruns the metadata`);
  const digest = readText(value.subarray(at, at + digestLength), "digest");
  const parentIdLength = view.getUint32((at += digestLength));
  at += 4;
  if (at + parentIdLength + 17 !== value.length) {
    throw invalid(`parent ID length ${parentIdLength} does not fit the ${value.length} bytes of metadata`);
  }
  const parentId = readText(value.subarray(at, at + parentIdLength), "parent ID");
  const trafficType = view.getUint8((at += parentIdLength));
  const costSeconds = readU64(view, (at += 1), "piece cost");
  const createdAtSeconds = readI64(view, (at += 8), "piece created_at");
  return { number, offset, length, digest, parentId, trafficType, costSeconds, createdAtSeconds };
}

/** Encodes a whole Error frame: header, code and UTF-8 message. */
export function encodeErrorFrame(code: ErrorCode, message: string, packetId = randomPacketId()): Uint8Array {
  checkU8("error code", code);
  const text = encoder.encode(message);
  const out = new Uint8Array(HEADER_SIZE + 1 + text.length);
  writeHeader(out, 0, Tag.Error, 1 + text.length, packetId);
  out[HEADER_SIZE] = code;
  out.set(text, HEADER_SIZE + 1);
  return out;
}

/** Decodes an Error value: code u8 then a UTF-8 message. */
export function decodeErrorValue(value: Uint8Array): ErrorFrame {
  if (value.length < 1) throw invalid("error value is empty, expected a code");
  return { code: value[0] as number, message: readText(value.subarray(1), "error message") };
}

/** Encodes a Close frame (empty value). */
export function encodeCloseFrame(packetId = randomPacketId()): Uint8Array {
  return encodeHeader(Tag.Close, 0, packetId);
}

/** Gathers bytes from chunks until a wanted count is reached, copying only when a value spans chunks. */
class Gatherer {
  #parts: Uint8Array[] = [];
  #have = 0;

  /** Takes up to `want - have` bytes from `chunk` at `from`; returns the bytes consumed. */
  add(chunk: Uint8Array, from: number, want: number): number {
    const take = Math.min(want - this.#have, chunk.length - from);
    if (take > 0) {
      this.#parts.push(chunk.subarray(from, from + take));
      this.#have += take;
    }
    return take;
  }

  get size(): number {
    return this.#have;
  }

  /** The gathered bytes as one array, and a reset. */
  take(): Uint8Array {
    const parts = this.#parts;
    this.#parts = [];
    const size = this.#have;
    this.#have = 0;
    if (parts.length === 1) return parts[0] as Uint8Array;
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/**
 * Parses one piece request from a byte stream, as the serving side sees it.
 * `push` returns the request once complete; it throws InvalidArgument as soon as the bytes cannot be a request,
 * and returns `close` for a Close frame.
 */
export class PieceRequestParser {
  #gatherer = new Gatherer();
  #header: FrameHeader | undefined;
  #done = false;

  /** Feeds bytes; returns the request when complete, `close` for a Close frame, else undefined. */
  push(chunk: Uint8Array): PieceRequest | "close" | undefined {
    if (this.#done) throw invalid("unexpected bytes after the request");
    let at = 0;
    if (!this.#header) {
      at += this.#gatherer.add(chunk, at, HEADER_SIZE);
      if (this.#gatherer.size < HEADER_SIZE) return undefined;
      const header = decodeHeader(this.#gatherer.take());
      if (header.tag === Tag.Close) {
        if (header.length !== 0) throw invalid(`close frame length must be 0, got ${header.length}`);
        this.#done = true;
        return "close";
      }
      if (header.tag === Tag.DownloadCachePiece) throw invalid(`unsupported tag ${header.tag} (download cache piece)`);
      if (kindOfRequestTag(header.tag) === undefined) throw invalid(`unexpected tag ${header.tag}, expected a download piece request`);
      if (header.length !== DOWNLOAD_PIECE_VALUE_SIZE) {
        throw invalid(`download piece length must be ${DOWNLOAD_PIECE_VALUE_SIZE}, got ${header.length}`);
      }
      this.#header = header;
    }
    at += this.#gatherer.add(chunk, at, DOWNLOAD_PIECE_VALUE_SIZE);
    if (at < chunk.length) throw invalid(`${chunk.length - at} unexpected bytes after the request`);
    if (this.#gatherer.size < DOWNLOAD_PIECE_VALUE_SIZE) return undefined;
    const { taskId, number } = decodeDownloadPieceValue(this.#gatherer.take());
    this.#done = true;
    return { kind: kindOfRequestTag(this.#header.tag) as PieceKind, taskId, number };
  }
}

/** What a response stream yields, in order: metadata, content chunks, end; or one error. */
export type ResponseEvent =
  | { type: "metadata"; metadata: PieceMetadata }
  | { type: "content"; bytes: Uint8Array }
  | { type: "end" }
  | { type: "error"; error: ErrorFrame };

/**
 * Parses one response (a content frame and its raw bytes, or an Error frame) from a byte stream, as the
 * downloading side sees it. Content chunks are subarrays of the pushed chunks, never copies.
 */
export class PieceResponseParser {
  readonly #contentTag: number;
  #gatherer = new Gatherer();
  #state: "header" | "value" | "content" | "done" = "header";
  #header: FrameHeader | undefined;
  #remaining = 0;

  constructor(kind: PieceKind = "standard") {
    this.#contentTag = PIECE_KIND_TAGS[kind].content;
  }

  /** Whether the whole response has been parsed. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Raw bytes still expected after the metadata. */
  get remaining(): number {
    return this.#remaining;
  }

  /** Feeds bytes and returns the events they complete; throws InvalidArgument on a malformed stream. */
  push(chunk: Uint8Array): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    let at = 0;
    while (at < chunk.length) {
      switch (this.#state) {
        case "header": {
          at += this.#gatherer.add(chunk, at, HEADER_SIZE);
          if (this.#gatherer.size < HEADER_SIZE) break;
          const header = decodeHeader(this.#gatherer.take());
          if (header.tag !== this.#contentTag && header.tag !== Tag.Error) {
            throw invalid(`unexpected tag ${header.tag}, expected ${this.#contentTag} (piece content) or ${Tag.Error} (error)`);
          }
          if (header.length > MAX_METADATA_SIZE) throw invalid(`value length ${header.length} is too large`);
          if (header.tag === this.#contentTag && header.length < 4) throw invalid(`piece content length ${header.length} is too short`);
          this.#header = header;
          this.#state = "value";
          if (header.length === 0) this.#finishValue(events);
          break;
        }
        case "value": {
          const header = this.#header as FrameHeader;
          at += this.#gatherer.add(chunk, at, header.length);
          if (this.#gatherer.size === header.length) this.#finishValue(events);
          break;
        }
        case "content": {
          const take = Math.min(this.#remaining, chunk.length - at);
          events.push({ type: "content", bytes: at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take) });
          at += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#state = "done";
            events.push({ type: "end" });
          }
          break;
        }
        case "done":
          throw invalid(`${chunk.length - at} unexpected bytes after the response`);
      }
    }
    return events;
  }

  #finishValue(events: ResponseEvent[]): void {
    const header = this.#header as FrameHeader;
    const value = this.#gatherer.take();
    if (header.tag === Tag.Error) {
      this.#state = "done";
      events.push({ type: "error", error: decodeErrorValue(value) });
      return;
    }
    const metadata = decodePieceMetadata(value);
    events.push({ type: "metadata", metadata });
    this.#remaining = metadata.length;
    if (metadata.length === 0) {
      this.#state = "done";
      events.push({ type: "end" });
    } else {
      this.#state = "content";
    }
  }
}
