/**
 * When the sending side compresses a piece: only for a child that asked, only when a quick sample of the piece
 * shrinks usefully, and (in `auto`) only when the link to that child, as the child measured it, is slower than
 * this machine compresses. Compressed pieces are kept in a small cache to serve other children without
 * compressing again.
 */
import { compressSample, DEFAULT_ZSTD_LEVEL } from "./zstd.ts";

/** How the sending side uses compression. */
export type UploadCompression = "none" | "auto" | "zstd";
/** How the receiving side uses compression: `none` never sends the extension Hello. */
export type DownloadCompression = "none" | "auto" | "zstd";

/** Bytes of each of the three samples taken from a piece. */
export const SAMPLE_BYTES = 64 * 1024;
/** A piece is compressed only when its samples shrink to at most this fraction. */
export const DEFAULT_MAX_RATIO = 0.8;
/** Compressed pieces kept for other children. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** Pieces remembered as not worth compressing. */
const MAX_SKIP_MEMO = 16_384;
/** Tasks whose verdict is remembered. */
const MAX_TASK_VERDICTS = 4096;
/** Consecutive sampled pieces of a task that must not shrink before its other pieces are sent as they are unsampled. */
export const TASK_VERDICT_PIECES = 2;
/** Once a task is judged incompressible, one piece in this many is still sampled, in case the data changes. */
export const TASK_RESAMPLE_EVERY = 16;
/** The link must be slower than this share of the compression speed for `auto` to compress. */
const SPEED_MARGIN = 0.8;
/** Compressed transfers must beat plain ones by this factor to keep compressing. */
const RATE_MARGIN = 1.05;
/** How long a child's request for compression makes `auto` compress pieces ahead of requests. */
const ASK_MEMORY_MS = 10 * 60_000;
/** Weight of a new measurement in the compression speed average. */
const EWMA_WEIGHT = 0.2;

/** The key of a piece in the compression cache: kind, task, number and digest, so a changed piece never matches. */
export function pieceKey(kind: string, taskId: string, number: number, digest: string): string {
  return `${kind}:${taskId}:${number}:${digest}`;
}

/** What the sending side decided for one piece. */
export interface CompressionDecision {
  compress: boolean;
  /** Metric label: compressed, cached, skipped_ratio, skipped_rate, not_negotiated. */
  reason: "compressed" | "cached" | "skipped_ratio" | "skipped_rate" | "not_negotiated";
  /** Compressed size ÷ raw size of the samples, when sampled. */
  ratio?: number;
  /** The task's pieces, not only this one, do not compress: the child may ask for the rest plainly. */
  incompressible?: boolean;
}

/** The rates a child reported in its Hello (piece bytes per second; 0 unknown). */
export interface ChildRates {
  plainRate: number;
  compressedRate: number;
}

/** A compressed piece ready to send again. */
export interface CachedPiece {
  /** What follows the content head, written in order: encoded blocks, or each block's header then its stored bytes. */
  blocks: Uint8Array[];
  bytes: number;
}

/** Options of {@link CompressionPolicy}. */
export interface CompressionPolicyOptions {
  mode?: UploadCompression;
  level?: number;
  maxRatio?: number;
  cacheBytes?: number;
}

/** The sending side's compression decisions, speed estimate and cache of compressed pieces. */
export class CompressionPolicy {
  readonly mode: UploadCompression;
  readonly level: number;
  readonly #maxRatio: number;
  readonly #cacheBytes: number;
  readonly #cache = new Map<string, CachedPiece>();
  #cached = 0;
  readonly #skip = new Map<string, number>();
  /** Per task: consecutive sampled pieces that did not shrink, and pieces decided since without sampling. */
  readonly #tasks = new Map<string, { skipped: number; since: number; ratio: number }>();
  /** Raw bytes per second one compression runs at; 0 until measured. */
  #speed = 0;
  /** When a child last asked for compressed pieces (ms since the epoch; 0 never). */
  #askedAt = 0;

  constructor(options: CompressionPolicyOptions = {}) {
    this.mode = options.mode ?? "auto";
    this.level = options.level ?? DEFAULT_ZSTD_LEVEL;
    this.#maxRatio = options.maxRatio ?? DEFAULT_MAX_RATIO;
    this.#cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
  }

  /** Compression speed in raw bytes per second, as measured here (0 before the first measurement). */
  get speed(): number {
    return this.#speed;
  }

  /** When a child last asked for compressed pieces (ms since the epoch; 0 never). */
  get askedAt(): number {
    return this.#askedAt;
  }

  /**
   * Whether pieces are worth compressing before anyone asks: always in `zstd` mode; in `auto`, once a child has
   * asked for compressed pieces within `withinMs` (where no child asks, as with downloads left at `none`, nothing is).
   */
  wantsAhead(withinMs = ASK_MEMORY_MS): boolean {
    if (this.mode === "zstd") return true;
    return this.mode === "auto" && this.#askedAt > 0 && Date.now() - this.#askedAt < withinMs;
  }

  /** Records a compression of `rawBytes` that took `ms`. */
  recordSpeed(rawBytes: number, ms: number): void {
    if (rawBytes < 4096 || ms <= 0) return;
    const speed = (rawBytes * 1000) / ms;
    this.#speed = this.#speed === 0 ? speed : this.#speed * (1 - EWMA_WEIGHT) + speed * EWMA_WEIGHT;
  }

  /**
   * Decides for one piece. `readSample(position, length)` reads bytes of the piece (relative to its start);
   * `acceptsZstd` says whether this connection's child asked for compression; `task` names the piece's task, whose
   * verdict spares sampling once its pieces have shown they do not shrink (gzip layers, safetensors, media).
   */
  async decide(
    key: string,
    length: number,
    acceptsZstd: boolean,
    rates: ChildRates,
    readSample: (position: number, length: number) => Promise<Uint8Array>,
    task?: string,
    /** The decision is for compressing ahead of any request: it does not count as a child asking. */
    ahead = false,
  ): Promise<CompressionDecision> {
    if (this.mode === "none" || !acceptsZstd || length === 0) return { compress: false, reason: "not_negotiated" };
    if (!ahead) this.#askedAt = Date.now();
    if (this.#cache.has(key)) return { compress: true, reason: "cached" };
    const verdict = task === undefined ? undefined : this.#tasks.get(task);
    const judged = verdict !== undefined && verdict.skipped >= TASK_VERDICT_PIECES;
    const memo = this.#skip.get(key);
    if (memo !== undefined) return { compress: false, reason: "skipped_ratio", ratio: memo, incompressible: judged };
    if (judged && ++verdict.since % TASK_RESAMPLE_EVERY !== 0) return { compress: false, reason: "skipped_ratio", ratio: verdict.ratio, incompressible: true };
    const ratio = await this.#sample(length, readSample);
    if (task !== undefined) this.#judge(task, ratio);
    if (ratio > this.#maxRatio) {
      this.#remember(key, ratio);
      return { compress: false, reason: "skipped_ratio", ratio, incompressible: (this.#tasks.get(task ?? "")?.skipped ?? 0) >= TASK_VERDICT_PIECES };
    }
    if (this.mode === "zstd") return { compress: true, reason: "compressed", ratio };
    return this.#pays(rates) ? { compress: true, reason: "compressed", ratio } : { compress: false, reason: "skipped_rate", ratio };
  }

  /** Whether compressing pays on a link with these measured rates. */
  #pays({ plainRate, compressedRate }: ChildRates): boolean {
    if (plainRate > 0 && compressedRate > 0) return compressedRate > plainRate * RATE_MARGIN;
    // Only compressed transfers measured lately: they ran slower than this machine compresses, so the link held
    // them back and compression helps; at compression speed, send a plain piece to measure the link instead.
    if (compressedRate > 0) return this.#speed > 0 && compressedRate < this.#speed * SPEED_MARGIN;
    // Only plain transfers measured: compress when this machine compresses faster than the link carries.
    if (plainRate > 0) return this.#speed === 0 || plainRate < this.#speed * SPEED_MARGIN;
    return true;
  }

  async #sample(length: number, readSample: (position: number, length: number) => Promise<Uint8Array>): Promise<number> {
    const take = Math.min(SAMPLE_BYTES, length);
    const positions = length <= 3 * take ? [0] : [0, Math.floor(length / 2 - take / 2), length - take];
    let raw = 0;
    let stored = 0;
    const started = performance.now();
    for (const position of positions) {
      const bytes = await readSample(position, Math.min(take, length - position));
      raw += bytes.length;
      stored += compressSample(bytes, this.level);
    }
    if (this.#speed === 0) this.recordSpeed(raw, performance.now() - started);
    return raw === 0 ? 1 : stored / raw;
  }

  /** Counts a task's sampled pieces that did not shrink; one that does clears its verdict. */
  #judge(task: string, ratio: number): void {
    if (ratio <= this.#maxRatio) {
      this.#tasks.delete(task);
      return;
    }
    const verdict = this.#tasks.get(task);
    if (verdict) {
      verdict.skipped++;
      verdict.ratio = ratio;
      return;
    }
    if (this.#tasks.size >= MAX_TASK_VERDICTS) this.#tasks.delete(this.#tasks.keys().next().value as string);
    this.#tasks.set(task, { skipped: 1, since: 0, ratio });
  }

  #remember(key: string, ratio: number): void {
    if (this.#skip.size >= MAX_SKIP_MEMO) this.#skip.delete(this.#skip.keys().next().value as string);
    this.#skip.set(key, ratio);
  }

  /** A cached compressed piece, refreshed as most recently used. */
  cached(key: string): CachedPiece | undefined {
    const piece = this.#cache.get(key);
    if (piece) {
      this.#cache.delete(key);
      this.#cache.set(key, piece);
    }
    return piece;
  }

  /** Keeps a compressed piece for other children, evicting the least recently used beyond the budget. */
  store(key: string, piece: CachedPiece): void {
    if (piece.bytes > this.#cacheBytes / 4 || this.#cache.has(key)) return;
    this.#cache.set(key, piece);
    this.#cached += piece.bytes;
    for (const [oldest, old] of this.#cache) {
      if (this.#cached <= this.#cacheBytes) break;
      this.#cache.delete(oldest);
      this.#cached -= old.bytes;
    }
  }

  /** Bytes held in the cache. */
  get cachedBytes(): number {
    return this.#cached;
  }
}

/** Piece bytes per second measured from each parent, per kind of transfer; forgotten after a while. */
export class ParentRates {
  readonly #rates = new Map<string, { plain: number; plainAt: number; compressed: number; compressedAt: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs = 60_000) {
    this.#ttlMs = ttlMs;
  }

  /** Records one piece of `bytes` that took `ms` from request to last byte. */
  record(address: string, compressed: boolean, bytes: number, ms: number): void {
    if (bytes < 64 * 1024 || ms <= 0) return;
    const rate = (bytes * 1000) / ms;
    const entry = this.#rates.get(address) ?? { plain: 0, plainAt: 0, compressed: 0, compressedAt: 0 };
    const now = Date.now();
    if (compressed) {
      entry.compressed = this.#fresh(entry.compressed, entry.compressedAt, now) ? entry.compressed * 0.7 + rate * 0.3 : rate;
      entry.compressedAt = now;
    } else {
      entry.plain = this.#fresh(entry.plain, entry.plainAt, now) ? entry.plain * 0.7 + rate * 0.3 : rate;
      entry.plainAt = now;
    }
    this.#rates.set(address, entry);
  }

  /** The rates to report in a Hello to `address`. */
  get(address: string): ChildRates {
    const entry = this.#rates.get(address);
    if (!entry) return { plainRate: 0, compressedRate: 0 };
    const now = Date.now();
    return {
      plainRate: this.#fresh(entry.plain, entry.plainAt, now) ? entry.plain : 0,
      compressedRate: this.#fresh(entry.compressed, entry.compressedAt, now) ? entry.compressed : 0,
    };
  }

  #fresh(rate: number, at: number, now: number): boolean {
    return rate > 0 && now - at < this.#ttlMs;
  }
}
