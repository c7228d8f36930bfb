/** The persistent-cache RPCs of DfdaemonDownload (dfcache, over the socket) and DfdaemonUpload (the scheduler, over TCP). */
import { createReadStream, existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { create } from "@bufbuild/protobuf";
import { durationMs, EmptySchema } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  DownloadPersistentCacheTaskResponseSchema,
  type DfdaemonDownload,
  type DfdaemonUpload,
  type DownloadPersistentCacheTaskRequest,
  type DownloadPersistentCacheTaskResponse,
  type UploadPersistentCacheTaskRequest,
} from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createFileHasher, parseDigest } from "../../common/digest.ts";
import { DigestMismatch, FailedPrecondition, InvalidArgument } from "../../common/errors.ts";
import { isTaskId } from "../../common/ids.ts";
import { toPieceMessage } from "../download/pieces.ts";
import type { PeerMetrics } from "../metrics.ts";
import type { Storage } from "../storage/storage.ts";
import type { ImportRequest } from "./importer.ts";
import type { PersistentCacheManager } from "./manager.ts";

/** What the handlers need. */
export interface PersistentCacheHandlerDeps {
  persistentCache: PersistentCacheManager;
  storage: Storage;
  hostId: string;
  metrics?: PeerMetrics;
}

/** Default TTL of an import that names none: one hour, as dfcache's default. */
export const DEFAULT_PERSISTENT_CACHE_TTL_MS = 3_600_000;

function checkTaskId(taskId: string): void {
  if (!taskId) throw new InvalidArgument('Invalid request: field "task_id" is required');
  if (!isTaskId(taskId)) throw new InvalidArgument(`Invalid request: field "task_id" must be 64 hex characters, got "${taskId}"`);
}

async function verifyDigest(path: string, expected: string): Promise<void> {
  const parsed = parseDigest(expected);
  const hasher = createFileHasher(parsed.algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hasher.update(chunk as Uint8Array);
  const actual = hasher.digest();
  if (actual !== `${parsed.algorithm}:${parsed.value}`) throw new DigestMismatch("the exported file", expected, actual);
}

/** Streams a download as DownloadPersistentCacheTaskResponse messages. */
async function* streamDownload(
  deps: PersistentCacheHandlerDeps,
  request: DownloadPersistentCacheTaskRequest,
  signal: AbortSignal,
): AsyncGenerator<DownloadPersistentCacheTaskResponse> {
  const timeoutMs = request.timeout ? durationMs(request.timeout) : undefined;
  const events = deps.persistentCache.download(
    { taskId: request.taskId, persistent: request.persistent, tag: request.tag, application: request.application, timeoutMs },
    signal,
  );
  for await (const event of events) {
    if (event.kind === "started") {
      yield create(DownloadPersistentCacheTaskResponseSchema, {
        hostId: deps.hostId,
        taskId: event.taskId,
        peerId: event.peerId,
        response: { case: "downloadPersistentCacheTaskStartedResponse", value: { contentLength: BigInt(event.contentLength) } },
      });
      continue;
    }
    if (event.trafficType === 2) {
      deps.metrics?.downloadTrafficBytes.inc({ type: "local_peer" }, event.piece.length);
      deps.metrics?.downloadPieces.inc({ type: "local_peer" });
    }
    const content = request.needPieceContent ? deps.storage.read(event.taskId, event.piece.offset, event.piece.length) : undefined;
    yield create(DownloadPersistentCacheTaskResponseSchema, {
      hostId: deps.hostId,
      taskId: event.taskId,
      peerId: event.peerId,
      response: { case: "downloadPieceFinishedResponse", value: { piece: toPieceMessage(event.piece, event.trafficType, content) } },
    });
  }
}

/** An import request from its protobuf form. */
export function importRequestOf(request: UploadPersistentCacheTaskRequest): ImportRequest {
  return {
    path: request.path,
    persistentReplicaCount: Number(request.persistentReplicaCount),
    tag: request.tag,
    application: request.application,
    pieceLength: request.pieceLength === undefined ? undefined : Number(request.pieceLength),
    ttlMs: request.ttl ? durationMs(request.ttl) : DEFAULT_PERSISTENT_CACHE_TTL_MS,
    contentForCalculatingTaskId: request.contentForCalculatingTaskId,
  };
}

/** DfdaemonDownload's persistent-cache handlers: import, export and stat. */
export function persistentCacheDownloadHandlers(deps: PersistentCacheHandlerDeps): Partial<ServiceImpl<typeof DfdaemonDownload>> {
  return {
    async *downloadPersistentCacheTask(request: DownloadPersistentCacheTaskRequest, context: HandlerContext) {
      checkTaskId(request.taskId);
      const output = request.outputPath || undefined;
      if (output !== undefined && !isAbsolute(output)) {
        throw new InvalidArgument(`Invalid request: field "output_path" must be absolute, got "${output}"`);
      }
      if (output && existsSync(output) && !request.overwrite) {
        throw new FailedPrecondition(`Cannot write "${output}": file exists (use --overwrite)`);
      }
      if (request.digest) parseDigest(request.digest);
      yield* streamDownload(deps, request, context.signal);
      const task = deps.storage.require(request.taskId);
      if (request.digest) await verifyDigest(task.path, request.digest);
      if (output) deps.storage.export(request.taskId, output, { forceHardLink: request.forceHardLink, overwrite: request.overwrite });
    },

    async uploadPersistentCacheTask(request: UploadPersistentCacheTaskRequest, context: HandlerContext) {
      const signals = [context.signal];
      if (request.timeout) signals.push(AbortSignal.timeout(durationMs(request.timeout)));
      return await deps.persistentCache.import(importRequestOf(request), AbortSignal.any(signals));
    },

    async statPersistentCacheTask(request) {
      checkTaskId(request.taskId);
      return await deps.persistentCache.stat(request.taskId);
    },
  };
}

/** DfdaemonUpload's persistent-cache handlers: what the scheduler calls to replicate, promote and delete copies. */
export function persistentCacheUploadHandlers(deps: PersistentCacheHandlerDeps): Partial<ServiceImpl<typeof DfdaemonUpload>> {
  return {
    async *downloadPersistentCacheTask(request: DownloadPersistentCacheTaskRequest, context: HandlerContext) {
      checkTaskId(request.taskId);
      yield* streamDownload(deps, request, context.signal);
    },

    async updatePersistentCacheTask(request) {
      checkTaskId(request.taskId);
      deps.persistentCache.setPersistent(request.taskId, request.persistent);
      return create(EmptySchema);
    },

    async statPersistentCacheTask(request) {
      checkTaskId(request.taskId);
      return deps.persistentCache.statLocal(request.taskId);
    },

    /** Idempotent: a host that no longer holds the task has nothing to do. */
    async deletePersistentCacheTask(request) {
      checkTaskId(request.taskId);
      deps.persistentCache.deleteLocal(request.taskId);
      return create(EmptySchema);
    },
  };
}
