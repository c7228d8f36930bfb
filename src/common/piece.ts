/** Piece geometry exactly as Dragonfly computes it. */
import { InvalidArgument } from "./errors.ts";

/** 4 MiB: the smallest piece. */
export const MIN_PIECE_LENGTH = 4 * 1024 * 1024;
/** 64 MiB: the largest piece chosen automatically. */
export const MAX_PIECE_LENGTH = 64 * 1024 * 1024;
/** The piece count the automatic length aims for. */
export const MAX_PIECE_COUNT = 500;

function nextPowerOfTwo(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(n));
}

/** The piece length for a content length: content/500 rounded up to a power of two, clamped to 4–64 MiB. */
export function pieceLength(contentLength: number, requested?: number): number {
  if (requested !== undefined && requested > 0) {
    if (requested < MIN_PIECE_LENGTH) {
      throw new InvalidArgument(`Invalid piece length "${requested}": must be at least ${MIN_PIECE_LENGTH} bytes`);
    }
    return requested;
  }
  const p = nextPowerOfTwo(Math.floor(contentLength / MAX_PIECE_COUNT));
  if (p >= MAX_PIECE_LENGTH) return MAX_PIECE_LENGTH;
  if (p > MIN_PIECE_LENGTH) return p;
  return MIN_PIECE_LENGTH;
}

/** The number of pieces of a content length. */
export function pieceCount(contentLength: number, length: number): number {
  return contentLength === 0 ? 0 : Math.ceil(contentLength / length);
}

/** One piece's place in the content. */
export interface PieceGeometry {
  number: number;
  offset: number;
  length: number;
}

/** The offset and length of piece `number`. */
export function pieceAt(number: number, length: number, contentLength: number): PieceGeometry {
  const offset = number * length;
  return { number, offset, length: Math.max(0, Math.min(length, contentLength - offset)) };
}

/** Every piece of the content, or those overlapping `range` when given. */
export function piecesOf(
  contentLength: number,
  length: number,
  range?: { start: number; length: number },
): PieceGeometry[] {
  const count = pieceCount(contentLength, length);
  let first = 0;
  let last = count - 1;
  if (range) {
    first = Math.floor(range.start / length);
    last = Math.min(count - 1, Math.floor((range.start + Math.max(range.length, 1) - 1) / length));
  }
  const out: PieceGeometry[] = [];
  for (let n = first; n <= last; n++) out.push(pieceAt(n, length, contentLength));
  return out;
}

/** Size scope, as the scheduler derives it. */
export function sizeScope(contentLength: number, count: number): "EMPTY" | "TINY" | "SMALL" | "NORMAL" | "UNKNOW" {
  if (contentLength < 0) return "UNKNOW";
  if (contentLength === 0) return "EMPTY";
  if (contentLength <= 128) return "TINY";
  if (count === 1) return "SMALL";
  return "NORMAL";
}
