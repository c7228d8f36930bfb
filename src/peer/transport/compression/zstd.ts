/** zstd for piece blocks, through node:zlib: compression off the event loop, decompression bounded by the claimed size. */
import { constants, zstdCompress, zstdCompressSync, zstdDecompress } from "node:zlib";
import { TransferError } from "../../../common/errors.ts";

/** zstd level used on the wire: level 1 compresses logs and JSON about as well as 3 at twice the speed. */
export const DEFAULT_ZSTD_LEVEL = 1;

/** A compressed block that does not inflate to exactly its claimed size: corrupt, or a bomb. */
export class DecompressionError extends TransferError {
  constructor(
    message: string,
    /** `bomb` when the block inflates past its claimed size, `corrupt` otherwise. */
    readonly reason: "bomb" | "corrupt",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function params(level: number) {
  return { params: { [constants.ZSTD_c_compressionLevel]: level } };
}

/** Compresses one block on the thread pool. */
export function compressBlock(raw: Uint8Array, level = DEFAULT_ZSTD_LEVEL): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zstdCompress(raw, params(level), (error, out) => (error ? reject(error) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length))));
  });
}

/** Compresses a small sample on the calling thread, to judge a piece's ratio. */
export function compressSample(raw: Uint8Array, level = DEFAULT_ZSTD_LEVEL): number {
  return zstdCompressSync(raw, params(level)).length;
}

/**
 * Decompresses one block that claims `rawLength` bytes. Output is capped at that size, so a block that would
 * inflate further is stopped there and refused; one that inflates to less is refused too.
 */
export function decompressBlock(stored: Uint8Array, rawLength: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zstdDecompress(stored, { maxOutputLength: rawLength }, (error, out) => {
      if (error) {
        const code = (error as { code?: string }).code;
        const bomb = code === "ERR_BUFFER_TOO_LARGE" || /larger than/i.test(error.message);
        reject(
          new DecompressionError(
            bomb ? `compressed block inflates past its claimed ${rawLength} bytes` : `compressed block is corrupt: ${error.message}`,
            bomb ? "bomb" : "corrupt",
            { cause: error },
          ),
        );
        return;
      }
      if (out.length !== rawLength) {
        reject(new DecompressionError(`compressed block inflates to ${out.length} bytes, claimed ${rawLength}`, out.length > rawLength ? "bomb" : "corrupt"));
        return;
      }
      resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
    });
  });
}
