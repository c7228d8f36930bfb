/** Large writes out of many small network reads. */

/** Bytes gathered before one write: shaped links deliver a piece in many small chunks. */
const STAGING_BYTES = 1024 * 1024;
/** Chunks at least this large are written as they are: copying them would cost more than the write saves. */
const DIRECT_BYTES = 64 * 1024;

/**
 * Gathers consecutive chunks of one piece and writes them in large blocks, so a piece that arrives in
 * thousands of small network reads costs tens of writes, not thousands.
 */
export class StagingWriter {
  private readonly buffer: Uint8Array;
  private used = 0;
  private start = 0;

  constructor(private readonly sink: (bytes: Uint8Array, position: number) => void, pieceLength: number) {
    this.buffer = new Uint8Array(Math.max(1, Math.min(STAGING_BYTES, pieceLength)));
  }

  write(chunk: Uint8Array, position: number): void {
    if (this.used > 0 && position !== this.start + this.used) this.flush();
    if (chunk.length >= DIRECT_BYTES || chunk.length >= this.buffer.length) {
      this.flush();
      this.sink(chunk, position);
      return;
    }
    if (this.used + chunk.length > this.buffer.length) this.flush();
    if (this.used === 0) this.start = position;
    this.buffer.set(chunk, this.used);
    this.used += chunk.length;
  }

  flush(): void {
    if (this.used === 0) return;
    this.sink(this.buffer.subarray(0, this.used), this.start);
    this.used = 0;
  }
}
