/** Piece and file digests in Dragonfly's `<algo>:<value>` form. */
import { crc32 as zlibCrc32 } from "node:zlib";
import { createHash } from "node:crypto";
import { InvalidArgument } from "./errors.ts";

/** CRC-32/IEEE of bytes, continuing from `previous` when given. */
export function crc32(data: Uint8Array, previous = 0): number {
  return zlibCrc32(data, previous) >>> 0;
}

/** The piece digest string: `crc32:` and the decimal CRC-32/IEEE. */
export function pieceDigest(value: number): string {
  return `crc32:${value >>> 0}`;
}

/** Algorithms accepted for whole-file digests. */
export const FILE_DIGEST_ALGORITHMS = ["crc32", "sha256", "sha512", "md5", "sha1"] as const;

/** A file digest algorithm. */
export type FileDigestAlgorithm = (typeof FILE_DIGEST_ALGORITHMS)[number];

/** A parsed `<algo>:<value>` digest. */
export interface ParsedDigest {
  algorithm: FileDigestAlgorithm;
  value: string;
}

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128, md5: 32, sha1: 40 };

/** Parses and validates a whole-file digest such as `sha256:<64 hex>`. */
export function parseDigest(text: string): ParsedDigest {
  const colon = text.indexOf(":");
  if (colon <= 0) throw new InvalidArgument(`Invalid digest "${text}": expected "<algorithm>:<value>"`);
  const algorithm = text.slice(0, colon).toLowerCase();
  const value = text.slice(colon + 1);
  if (!(FILE_DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new InvalidArgument(`Invalid digest "${text}": unsupported algorithm "${algorithm}"`);
  }
  if (algorithm === "crc32") {
    if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffffffff) {
      throw new InvalidArgument(`Invalid digest "${text}": crc32 value must be a decimal u32`);
    }
    return { algorithm: "crc32", value: String(Number(value)) };
  }
  const expected = HEX_LENGTH[algorithm];
  if (!new RegExp(`^[0-9a-fA-F]{${expected}}$`).test(value)) {
    throw new InvalidArgument(`Invalid digest "${text}": ${algorithm} value must be ${expected} hex characters`);
  }
  return { algorithm: algorithm as FileDigestAlgorithm, value: value.toLowerCase() };
}

/** An incremental hasher for a file digest algorithm. */
export interface FileHasher {
  update(data: Uint8Array): void;
  /** The digest in `<algo>:<value>` form. */
  digest(): string;
}

/** Creates a hasher for one of the supported whole-file algorithms. */
export function createFileHasher(algorithm: FileDigestAlgorithm): FileHasher {
  if (algorithm === "crc32") {
    let value = 0;
    return {
      update: (data) => void (value = crc32(data, value)),
      digest: () => `crc32:${value >>> 0}`,
    };
  }
  const hash = createHash(algorithm);
  return {
    update: (data) => void hash.update(data),
    digest: () => `${algorithm}:${hash.digest("hex")}`,
  };
}
