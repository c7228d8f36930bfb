/** Back-to-source: ranged reads of pieces from the origin, streamed to storage with their CRC-32. */
import { SourceError, errorMessage } from "../../common/errors.ts";
import { crc32, pieceDigest } from "../../common/digest.ts";
import type { PieceGeometry } from "../../common/piece.ts";
import type { RateLimiter } from "../../common/rate-limiter.ts";
import type { PieceRecord } from "../storage/metadata.ts";
import type { Storage } from "../storage/storage.ts";
import type { Source, SourceOptions } from "../source/source.ts";
import { RangeNotSupported } from "../source/http.ts";
import { StagingWriter } from "./staging-writer.ts";

/** What fetchPiecesFromSource() needs. */
export interface SourceFetchOptions {
  storage: Storage;
  source: Source;
  taskId: string;
  url: string;
  header: Record<string, string>;
  /** Backend options (credentials, revision) of the Download. */
  backend?: SourceOptions;
  pieces: PieceGeometry[];
  concurrency: number;
  signal: AbortSignal;
  /** Called after each piece is stored. */
  onPiece(piece: PieceRecord): void;
  /** Called when a piece fails, before the whole fetch fails. */
  onPieceFailed?(number: number, error: unknown): void;
  /** Charged each piece's length before its request (download.bandwidthLimit). */
  limiter?: RateLimiter;
}

/** Fetches one piece from the source into storage and returns its record (not yet marked finished). */
export async function fetchPieceFromSource(
  options: Pick<SourceFetchOptions, "storage" | "source" | "taskId" | "url" | "header" | "signal" | "backend">,
  piece: PieceGeometry,
): Promise<PieceRecord> {
  const started = Date.now();
  const { body } = await options.source.get({
    url: options.url,
    header: options.header,
    signal: options.signal,
    ...options.backend,
    range: { start: piece.offset, length: piece.length },
  });
  let position = piece.offset;
  let crc = 0;
  const reader = body.getReader();
  // Children may stream the piece from here while it arrives; finishPiece() (by the caller) ends that.
  const inflight = options.storage.beginPiece(options.taskId, piece.number, piece.offset, piece.length, { streamable: true });
  const staging = new StagingWriter((bytes, at) => {
    options.storage.write(options.taskId, bytes, at);
    inflight.advanceTo(at + bytes.length);
  }, piece.length);
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      const remaining = piece.offset + piece.length - position;
      const chunk = value.length > remaining ? value.subarray(0, remaining) : value;
      staging.write(chunk, position);
      crc = crc32(chunk, crc);
      position += chunk.length;
      if (position >= piece.offset + piece.length) break;
    }
    staging.flush();
    if (position !== piece.offset + piece.length) {
      throw new SourceError(
        `Origin "${options.url}" ended piece ${piece.number} early: got ${position - piece.offset} of ${piece.length} bytes`,
      );
    }
  } catch (error) {
    options.storage.abortPiece(inflight, errorMessage(error));
    throw error;
  } finally {
    staging.release();
    reader.cancel().catch(() => {});
  }
  return {
    taskId: options.taskId,
    number: piece.number,
    offset: piece.offset,
    length: piece.length,
    digest: pieceDigest(crc),
    parentId: "",
    trafficType: 0,
    costMs: Date.now() - started,
    createdAt: Date.now(),
  };
}

/**
 * Reads the whole object in one request and cuts it into pieces, for origins without Range support.
 * Pieces already stored are skipped over.
 */
export async function fetchWholeFromSource(options: SourceFetchOptions, all: PieceGeometry[]): Promise<void> {
  const wanted = new Set(options.pieces.map((p) => p.number));
  const { body } = await options.source.get({ url: options.url, header: options.header, signal: options.signal, ...options.backend });
  const reader = body.getReader();
  let index = 0;
  let position = 0;
  let crc = 0;
  let pieceStarted = Date.now();
  try {
    while (index < all.length) {
      const { done, value } = await reader.read();
      if (done) break;
      await options.limiter?.take(value.length, options.signal);
      let chunk = value;
      while (chunk.length > 0 && index < all.length) {
        const piece = all[index]!;
        const take = Math.min(chunk.length, piece.offset + piece.length - position);
        const part = chunk.subarray(0, take);
        if (wanted.has(piece.number)) {
          options.storage.write(options.taskId, part, position);
          crc = crc32(part, crc);
        }
        position += take;
        chunk = chunk.subarray(take);
        if (position === piece.offset + piece.length) {
          if (wanted.has(piece.number)) {
            const record: PieceRecord = {
              taskId: options.taskId,
              number: piece.number,
              offset: piece.offset,
              length: piece.length,
              digest: pieceDigest(crc),
              parentId: "",
              trafficType: 0,
              costMs: Date.now() - pieceStarted,
              createdAt: Date.now(),
            };
            options.storage.finishPiece(record);
            options.onPiece(record);
          }
          crc = 0;
          pieceStarted = Date.now();
          index++;
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (index < all.length) {
    const last = all[all.length - 1]!;
    throw new SourceError(`Origin "${options.url}" ended early: got ${position} of ${last.offset + last.length} bytes`);
  }
}

/** Fetches pieces with bounded concurrency; the first failure stops the rest and is thrown. */
export async function fetchPiecesFromSource(options: SourceFetchOptions, all?: PieceGeometry[]): Promise<void> {
  try {
    await fetchRanges(options);
  } catch (error) {
    if (!(error instanceof RangeNotSupported) || !all) throw error;
    await fetchWholeFromSource({ ...options, pieces: options.pieces.filter((p) => !options.storage.get(options.taskId)?.pieces.has(p.number)) }, all);
  }
}

async function fetchRanges(options: SourceFetchOptions): Promise<void> {
  const queue = [...options.pieces];
  const controller = new AbortController();
  const signal = AbortSignal.any([options.signal, controller.signal]);
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && !signal.aborted) {
      const piece = queue.shift();
      if (!piece) return;
      try {
        await options.limiter?.take(piece.length, signal);
        const record = await fetchPieceFromSource({ ...options, signal }, piece);
        options.storage.finishPiece(record);
        options.onPiece(record);
      } catch (error) {
        if (failure === undefined) {
          failure = error instanceof SourceError || signal.aborted ? error : new SourceError(
            `Cannot fetch piece ${piece.number} from origin "${options.url}": ${errorMessage(error)}`,
            undefined,
            {},
            { cause: error },
          );
          if (!(error instanceof RangeNotSupported)) options.onPieceFailed?.(piece.number, failure);
        }
        controller.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, queue.length)) }, worker));
  if (failure !== undefined) throw failure;
  options.signal.throwIfAborted();
}
