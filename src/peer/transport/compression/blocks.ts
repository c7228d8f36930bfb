/** A piece as compressed blocks, encoded as the Vortex extension sends them; and compressing pieces ahead of requests. */
import { readSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { BlockCodec, encodeBlockHeader } from "../vortex/extension.ts";
import { pieceKey, type CompressionPolicy } from "./policy.ts";
import { compressBlock } from "./zstd.ts";

/** Raw bytes per compressed block. */
export const COMPRESSION_BLOCK_SIZE = 1024 * 1024;
/** A compressed block is sent as is unless it saves at least this share. */
const MIN_BLOCK_SAVING = 0.03;
/** Pieces waiting to be compressed ahead of requests; more are dropped (they get compressed when asked for). */
const MAX_QUEUED = 64;

/**
 * Compresses one raw block and encodes it: zstd when that saves enough, stored as it is otherwise. Returns the
 * block's header and its stored bytes, to be written one after the other (no copy into one array).
 */
export async function encodeCompressedBlock(policy: CompressionPolicy, raw: Uint8Array): Promise<Uint8Array[]> {
  const began = performance.now();
  const stored = await compressBlock(raw, policy.level);
  policy.recordSpeed(raw.length, performance.now() - began);
  const kept = stored.length <= raw.length * (1 - MIN_BLOCK_SAVING) ? stored : raw;
  return [encodeBlockHeader(kept === raw ? BlockCodec.Stored : BlockCodec.Zstd, raw.length, kept.length), kept];
}

/** Fills `target` from `file` at `position`. */
export async function readFully(file: FileHandle, position: number, target: Uint8Array): Promise<void> {
  let got = 0;
  while (got < target.length) {
    const { bytesRead } = await file.read(target, got, target.length - got, position + got);
    if (bytesRead === 0) throw new Error(`content file ended ${target.length - got} bytes before the end of the piece`);
    got += bytesRead;
  }
}

/**
 * Reads a small sample of a piece on the calling thread: a few 64 KiB reads from the page cache take microseconds,
 * while a busy machine can keep each asynchronous read waiting for milliseconds, before the child hears anything.
 */
export function readSampleSync(file: FileHandle, position: number, length: number): Uint8Array {
  const sample = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(file.fd, sample, got, length - got, position + got);
    if (n === 0) throw new Error(`content file ended ${length - got} bytes before the end of the sample`);
    got += n;
  }
  return sample;
}

/** A piece stored in a content file, as the task's first holder has just written it. */
export interface StoredPiece {
  kind?: string;
  taskId: string;
  number: number;
  digest: string;
  offset: number;
  length: number;
  /** The content file holding the piece. */
  path: string;
}

/**
 * Compresses pieces into the policy's cache as they arrive from the source, one at a time, so that the first
 * children to ask are served at once and the source link, not the compressor, paces that first copy. Only where
 * children ask for compression (see CompressionPolicy.wantsAhead). Pieces that do not shrink are only sampled, and
 * count towards their task's verdict. The returned function says whether it took the piece.
 */
export function createPrecompressor(policy: CompressionPolicy, onError?: (error: unknown) => void): (piece: StoredPiece) => boolean {
  const queue: StoredPiece[] = [];
  let running = false;
  const one = async (piece: StoredPiece) => {
    const key = pieceKey(piece.kind ?? "standard", piece.taskId, piece.number, piece.digest);
    if (policy.cached(key)) return;
    const file = await open(piece.path, "r");
    try {
      const read = async (position: number, length: number) => {
        const sample = new Uint8Array(length);
        await readFully(file, piece.offset + position, sample);
        return sample;
      };
      const decision = await policy.decide(key, piece.length, true, { plainRate: 0, compressedRate: 0 }, read, `${piece.kind ?? "standard"}:${piece.taskId}`, true);
      if (!decision.compress || decision.reason === "cached") return;
      const blocks: Uint8Array[] = [];
      let bytes = 0;
      for (let from = 0; from < piece.length; from += COMPRESSION_BLOCK_SIZE) {
        for (const part of await encodeCompressedBlock(policy, await read(from, Math.min(COMPRESSION_BLOCK_SIZE, piece.length - from)))) {
          blocks.push(part);
          bytes += part.length;
        }
      }
      policy.store(key, { blocks, bytes });
    } finally {
      await file.close().catch(() => undefined);
    }
  };
  const drain = async () => {
    running = true;
    try {
      for (let piece = queue.shift(); piece; piece = queue.shift()) {
        await one(piece).catch((error: unknown) => onError?.(error));
      }
    } finally {
      running = false;
    }
  };
  return (piece) => {
    if (!policy.wantsAhead() || piece.length === 0 || queue.length >= MAX_QUEUED) return false;
    queue.push(piece);
    if (!running) void drain();
    return true;
  };
}
