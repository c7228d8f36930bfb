/** dfdaemon.v2.DfdaemonUpload: what other peers, schedulers and the manager call over TCP. */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import {
  DfdaemonUpload,
  SyncPiecesResponseSchema,
  type DownloadTaskRequest,
  type SyncPiecesRequest,
  type SyncPiecesResponse,
} from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { FailedPrecondition, InvalidArgument, LibellulaError, TaskNotFound, errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import { piecesOf } from "../../common/piece.ts";
import { taskIdOf, type TaskManager } from "../download/task-manager.ts";
import { persistentCacheUploadHandlers } from "../persistent-cache/handlers.ts";
import type { PersistentCacheManager } from "../persistent-cache/manager.ts";
import type { SourceRegistry } from "../source/source.ts";
import type { Storage } from "../storage/storage.ts";
import { listTaskEntries, statLocalTask, statTask } from "./task-handlers.ts";
import { streamDownload } from "./stream-task.ts";

/** What the upload service depends on. */
export interface UploadServiceDeps {
  storage: Storage;
  taskManager: TaskManager;
  sources: SourceRegistry;
  hostId: string;
  /** The data address parents advertise in SyncPieces. */
  dataAddress: () => { ip: string; tcpPort: number };
  disableShared: boolean;
  log: Logger;
  /** Persistent cache tasks; their RPCs are unimplemented without it. */
  persistentCache?: PersistentCacheManager;
}

class TaskUnavailable extends LibellulaError {
  override readonly code = "Unknown";
}

/** Streams the interested pieces this host holds, waiting for pieces still arriving. */
export async function* syncPieces(deps: UploadServiceDeps, request: SyncPiecesRequest, signal: AbortSignal): AsyncGenerator<SyncPiecesResponse> {
  if (deps.disableShared) throw new FailedPrecondition("This host does not share data (upload.disableShared)");
  const task = deps.storage.get(request.taskId);
  if (!task) throw new TaskUnavailable(`Task "${request.taskId}" not found`);
  const all = piecesOf(task.record.contentLength, task.record.pieceLength).map((p) => p.number);
  const interested = new Set(request.interestedPieceNumbers.length > 0 ? request.interestedPieceNumbers : all);
  const { ip, tcpPort } = deps.dataAddress();
  /** Pieces announced as in flight to this caller (it asked with include_in_flight); each is announced once. */
  const announcedInFlight = new Set<number>();
  while (interested.size > 0) {
    for (const number of [...interested]) {
      const piece = task.pieces.get(number);
      if (!piece) continue;
      interested.delete(number);
      yield create(SyncPiecesResponseSchema, {
        number,
        offset: BigInt(piece.offset),
        length: BigInt(piece.length),
        ip,
        tcpPort,
      });
    }
    if (request.includeInFlight) {
      for (const inflight of deps.storage.inflight.of(request.taskId)) {
        const { number } = inflight;
        if (!interested.has(number) || announcedInFlight.has(number) || inflight.outcome || !inflight.streamable) continue;
        announcedInFlight.add(number);
        yield create(SyncPiecesResponseSchema, {
          number,
          offset: BigInt(inflight.offset),
          length: BigInt(inflight.length),
          ip,
          tcpPort,
          inFlight: true,
        });
      }
    }
    if (interested.size === 0) return;
    if (deps.storage.get(request.taskId) !== task) throw new TaskUnavailable(`Task "${request.taskId}" not found`);
    if (task.record.state === "failed" && !deps.taskManager.activeTaskIds().has(request.taskId)) {
      throw new TaskUnavailable(`Task "${request.taskId}" failed`);
    }
    if (task.record.state === "succeeded") return;
    // A partial task (a range was downloaded here) has nothing more coming unless a download of it runs.
    if (task.record.state === "partial" && !deps.taskManager.activeTaskIds().has(request.taskId)) return;
    signal.throwIfAborted();
    await deps.storage.waitForChange(request.taskId, signal);
  }
}

/** Registers DfdaemonUpload on a router. */
export function uploadRoutes(deps: UploadServiceDeps): (router: ConnectRouter) => void {
  return (router) =>
    router.service(DfdaemonUpload, {
      ...(deps.persistentCache
        ? persistentCacheUploadHandlers({ persistentCache: deps.persistentCache, storage: deps.storage, hostId: deps.hostId })
        : {}),
      syncPieces: (request: SyncPiecesRequest, context: HandlerContext) => syncPieces(deps, request, context.signal),

      async *downloadTask(request: DownloadTaskRequest, context: HandlerContext) {
        const download = request.download;
        if (!download) throw new InvalidArgument('Invalid request: field "download" is required');
        download.outputPath = undefined;
        const stored = deps.storage.get(taskIdOf(download));
        if (stored?.record.state === "succeeded" && !deps.taskManager.activeTaskIds().has(stored.record.id)) {
          deps.taskManager.announceFinished(download).catch((error) =>
            deps.log.warn("Cannot announce a finished task", { taskId: stored.record.id, error: errorMessage(error) }),
          );
        }
        yield* streamDownload(deps.taskManager, deps.storage, deps.hostId, download, context.signal);
      },

      statTask: async (request) => statTask(deps.storage, request.taskId),

      statLocalTask: async (request) => statLocalTask(deps.storage, request.taskId),

      async deleteTask(request) {
        if (!deps.storage.delete(request.taskId)) throw new TaskNotFound(request.taskId);
        return create(EmptySchema);
      },

      listTaskEntries: (request) => listTaskEntries(deps.sources, request),
    });
}
