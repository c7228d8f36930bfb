/** Large writes out of many small network reads. */
import { WRITE_SLICE_BYTES } from "../../common/file-write.ts";

/**
 * Bytes gathered before one write: shaped links deliver a piece in many small chunks. As large as one write into
 * storage (WRITE_SLICE_BYTES), and small enough that the piece's progress, which children streaming it from this host
 * follow, moves every few milliseconds: on bench/p2p's 200 Mbit/s links, 32 KiB gave 6.61–6.84 s to the last peer
 * against 6.76–6.99 s with 128 KiB.
 */
export const STAGING_BYTES = WRITE_SLICE_BYTES;
/** Chunks at least this large are written as they are: copying them would cost more than the write saves. */
const DIRECT_BYTES = WRITE_SLICE_BYTES;
/** Idle staging buffers kept for the next pieces, so that each piece does not fault in a fresh buffer. */
const MAX_POOLED = 16;

const pool: Uint8Array[] = [];

/**
 * Gathers consecutive chunks of one piece and writes them in large blocks, so a piece that arrives in
 * thousands of small network reads costs tens of writes, not thousands. The buffer is taken only when a small
 * chunk arrives (fast links deliver large chunks that are written directly) and goes back to a shared pool on
 * release().
 */
export class StagingWriter {
  private buffer: Uint8Array | undefined;
  private used = 0;
  private start = 0;
  private readonly size: number;

  constructor(private readonly sink: (bytes: Uint8Array, position: number) => void, pieceLength: number) {
    this.size = Math.max(1, Math.min(STAGING_BYTES, pieceLength));
  }

  write(chunk: Uint8Array, position: number): void {
    if (this.used > 0 && position !== this.start + this.used) this.flush();
    if (chunk.length >= DIRECT_BYTES || chunk.length >= this.size) {
      this.flush();
      this.sink(chunk, position);
      return;
    }
    if (this.used + chunk.length > this.size) this.flush();
    const buffer = (this.buffer ??= this.take());
    if (this.used === 0) this.start = position;
    buffer.set(chunk, this.used);
    this.used += chunk.length;
  }

  flush(): void {
    if (this.used === 0 || !this.buffer) return;
    this.sink(this.buffer.subarray(0, this.used), this.start);
    this.used = 0;
  }

  /** Drops anything not flushed and returns the buffer to the pool; the writer must not be used afterwards. */
  release(): void {
    const buffer = this.buffer;
    this.buffer = undefined;
    this.used = 0;
    if (buffer && buffer.length === STAGING_BYTES && pool.length < MAX_POOLED) pool.push(buffer);
  }

  private take(): Uint8Array {
    if (this.size === STAGING_BYTES) return pool.pop() ?? new Uint8Array(STAGING_BYTES);
    return new Uint8Array(this.size);
  }
}
