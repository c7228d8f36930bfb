/**
 * zstd for piece blocks through the runtime's native one-shot codec (about twice as cheap in CPU per byte as the
 * stream-based node:zlib one). Decompression is bounded by the claimed size: a block must be exactly one zstd
 * frame that declares that size, which the frame walk below checks before any byte is inflated.
 */
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

function view(out: Uint8Array): Uint8Array {
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Compresses one block on the runtime's thread pool, so that the event loop keeps serving while it runs. */
export async function compressBlock(raw: Uint8Array, level = DEFAULT_ZSTD_LEVEL): Promise<Uint8Array> {
  return view(await Bun.zstdCompress(raw, { level }));
}

/** Compresses a small sample on the calling thread, to judge a piece's ratio; returns the compressed size. */
export function compressSample(raw: Uint8Array, level = DEFAULT_ZSTD_LEVEL): number {
  return Bun.zstdCompressSync(raw, { level }).length;
}

const ZSTD_MAGIC = 0xfd2fb528;
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const;

/**
 * Walks one zstd frame (RFC 8878, section 3.1.1) without inflating it and returns the content size its header
 * declares. Throws a DecompressionError unless `stored` is exactly one frame, without a dictionary, that declares
 * its size: then the codec, which checks what it inflates against that size, cannot produce more.
 */
export function frameContentSize(stored: Uint8Array): number {
  const corrupt = (detail: string) => new DecompressionError(`compressed block is not a single zstd frame: ${detail}`, "corrupt");
  if (stored.length < 6) throw corrupt(`${stored.length} bytes is too short`);
  const data = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  if (data.getUint32(0, true) !== ZSTD_MAGIC) throw corrupt("bad magic number");
  const descriptor = data.getUint8(4);
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  if (descriptor & 0x08) throw corrupt("reserved bit set");
  const dictionaryBytes = DICTIONARY_ID_BYTES[descriptor & 3] as number;
  const checksum = (descriptor & 0x04) !== 0;
  let at = 5 + (singleSegment ? 0 : 1);
  if (dictionaryBytes > 0) {
    if (at + dictionaryBytes > stored.length) throw corrupt("header is truncated");
    let id = 0;
    for (let i = dictionaryBytes - 1; i >= 0; i--) id = id * 256 + (stored[at + i] as number);
    if (id !== 0) throw corrupt(`needs dictionary ${id}`);
    at += dictionaryBytes;
  }
  const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : sizeFlag === 1 ? 2 : sizeFlag === 2 ? 4 : 8;
  if (sizeBytes === 0) throw corrupt("the frame does not declare its content size");
  if (at + sizeBytes > stored.length) throw corrupt("header is truncated");
  let size: number;
  if (sizeBytes === 1) size = data.getUint8(at);
  else if (sizeBytes === 2) size = data.getUint16(at, true) + 256;
  else if (sizeBytes === 4) size = data.getUint32(at, true);
  else size = Number(data.getBigUint64(at, true));
  at += sizeBytes;
  for (;;) {
    if (at + 3 > stored.length) throw corrupt("a block header is truncated");
    const header = (stored[at] as number) | ((stored[at + 1] as number) << 8) | ((stored[at + 2] as number) << 16);
    at += 3;
    const type = (header >> 1) & 3;
    if (type === 3) throw corrupt("reserved block type");
    at += type === 1 ? 1 : header >>> 3;
    if (at > stored.length) throw corrupt("a block is truncated");
    if (header & 1) break;
  }
  if (checksum) at += 4;
  if (at !== stored.length) throw corrupt(at > stored.length ? "the checksum is truncated" : `${stored.length - at} bytes follow the frame`);
  return size;
}

/**
 * Decompresses one block that claims `rawLength` bytes. A block that is not one frame declaring exactly that
 * size is refused before inflating (a larger declared size is a bomb); one that inflates to anything else is
 * refused by the codec.
 */
export async function decompressBlock(stored: Uint8Array, rawLength: number): Promise<Uint8Array> {
  const declared = frameContentSize(stored);
  if (declared !== rawLength) {
    throw new DecompressionError(
      declared > rawLength ? `compressed block inflates past its claimed ${rawLength} bytes (declares ${declared})` : `compressed block declares ${declared} bytes, claimed ${rawLength}`,
      declared > rawLength ? "bomb" : "corrupt",
    );
  }
  let out: Uint8Array;
  try {
    out = view(await Bun.zstdDecompress(stored));
  } catch (error) {
    throw new DecompressionError(`compressed block is corrupt: ${(error as Error).message}`, "corrupt", { cause: error });
  }
  if (out.length !== rawLength) {
    throw new DecompressionError(`compressed block inflates to ${out.length} bytes, claimed ${rawLength}`, out.length > rawLength ? "bomb" : "corrupt");
  }
  return out;
}
