/** Imports a local file as a persistent cache task: task ID from its bytes, a copy in storage, the scheduler told. */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PersistentCacheTaskSchema, type PersistentCacheTask } from "../../gen/common/v2/common_pb.ts";
import { crc32, pieceDigest } from "../../common/digest.ts";
import { InvalidArgument, errorMessage } from "../../common/errors.ts";
import { persistentCacheTaskId, sha256Hex } from "../../common/ids.ts";
import { pieceCount, pieceLength as choosePieceLength, piecesOf } from "../../common/piece.ts";
import type { Storage, StoredTask } from "../storage/storage.ts";

/** What an import needs to know. */
export interface ImportRequest {
  path: string;
  persistentReplicaCount: number;
  tag?: string;
  application?: string;
  pieceLength?: number;
  ttlMs: number;
  contentForCalculatingTaskId?: string;
}

/** Bytes read from the file per read call. */
const READ_CHUNK = 4 * 1024 * 1024;

/** Checks an import request and the file; returns the file's size. Throws InvalidArgument naming the field. */
export function checkImport(request: ImportRequest): number {
  if (!request.path) throw new InvalidArgument('Invalid import: field "path" is required');
  if (!isAbsolute(request.path)) throw new InvalidArgument(`Invalid import: field "path" must be absolute, got "${request.path}"`);
  let stats;
  try {
    stats = statSync(request.path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : errorMessage(cause);
    throw new InvalidArgument(`Cannot import "${request.path}": ${reason}`, { cause });
  }
  if (!stats.isFile()) throw new InvalidArgument(`Cannot import "${request.path}": not a regular file`);
  if (!Number.isInteger(request.persistentReplicaCount) || request.persistentReplicaCount < 1) {
    throw new InvalidArgument(`Invalid import: field "persistent_replica_count" must be at least 1, got ${request.persistentReplicaCount}`);
  }
  if (!(request.ttlMs > 0)) throw new InvalidArgument('Invalid import: field "ttl" must be positive');
  choosePieceLength(stats.size, request.pieceLength);
  return stats.size;
}

/** The task ID of an import: sha256 of the given content, or of the file's bytes, tag, application and piece length. */
export async function importTaskId(request: ImportRequest, signal?: AbortSignal): Promise<string> {
  if (request.contentForCalculatingTaskId) return sha256Hex(request.contentForCalculatingTaskId);
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(request.path, { highWaterMark: READ_CHUNK, signal })) hash.update(chunk as Uint8Array);
  return persistentCacheTaskId(hash, request.tag ?? "", request.application ?? "", request.pieceLength);
}

/** The piece length an import uses. */
export function importPieceLength(contentLength: number, request: ImportRequest): number {
  return choosePieceLength(contentLength, request.pieceLength);
}

/** Copies the file into a created task's content, piece by piece, with each piece's CRC-32 recorded. */
export function copyIntoStorage(storage: Storage, task: StoredTask, path: string, signal?: AbortSignal): void {
  const { id, contentLength, pieceLength } = task.record;
  const buffer = new Uint8Array(Math.min(READ_CHUNK, Math.max(1, pieceLength)));
  const fd = openSync(path, "r");
  try {
    for (const piece of piecesOf(contentLength, pieceLength)) {
      signal?.throwIfAborted();
      const started = Date.now();
      let crc = 0;
      let done = 0;
      while (done < piece.length) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, piece.length - done), piece.offset + done);
        if (n === 0) throw new InvalidArgument(`Cannot import "${path}": the file shrank while it was read`);
        const bytes = buffer.subarray(0, n);
        crc = crc32(bytes, crc);
        storage.write(id, bytes, piece.offset + done);
        done += n;
      }
      storage.finishPiece({
        taskId: id,
        number: piece.number,
        offset: piece.offset,
        length: piece.length,
        digest: pieceDigest(crc),
        parentId: "",
        trafficType: 2,
        costMs: Date.now() - started,
        createdAt: Date.now(),
      });
    }
  } finally {
    closeSync(fd);
  }
}

/** A stored persistent cache task as `common.v2.PersistentCacheTask`, as this host alone sees it. */
export function localTaskMessage(
  task: StoredTask,
  extra: { persistentReplicaCount?: number; tag?: string; application?: string } = {},
): PersistentCacheTask {
  const { record } = task;
  const succeeded = record.state === "succeeded";
  return create(PersistentCacheTaskSchema, {
    id: record.id,
    persistentReplicaCount: BigInt(extra.persistentReplicaCount ?? 1),
    currentPersistentReplicaCount: BigInt(succeeded && record.persistent ? 1 : 0),
    currentReplicaCount: BigInt(succeeded ? 1 : 0),
    tag: extra.tag,
    application: extra.application,
    pieceLength: BigInt(record.pieceLength),
    contentLength: BigInt(record.contentLength),
    pieceCount: pieceCount(record.contentLength, record.pieceLength),
    state: succeeded ? "Succeeded" : record.state === "failed" ? "Failed" : "Uploading",
    ttl: durationFromMs(record.ttlMs),
    createdAt: timestampFromMs(record.createdAt),
    updatedAt: timestampFromMs(record.updatedAt),
  });
}
