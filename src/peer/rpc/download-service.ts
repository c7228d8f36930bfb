/** dfdaemon.v2.DfdaemonDownload: what dfget, dfcache and the proxy call over the unix socket. */
import { createReadStream, existsSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  DfdaemonDownload,
  ListLocalTasksResponseSchema,
  type DownloadTaskRequest,
} from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createFileHasher, parseDigest } from "../../common/digest.ts";
import { DigestMismatch, FailedPrecondition, InvalidArgument, TaskNotFound } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { TaskManager } from "../download/task-manager.ts";
import { validateDownload } from "../download/task-manager.ts";
import type { SchedulerClient } from "../download/scheduler-client.ts";
import { persistentCacheDownloadHandlers } from "../persistent-cache/handlers.ts";
import type { PersistentCacheManager } from "../persistent-cache/manager.ts";
import type { SourceRegistry } from "../source/source.ts";
import type { Storage } from "../storage/storage.ts";
import { toLocalTaskMessage } from "./convert.ts";
import { listTaskEntries, statLocalTask, statTask } from "./task-handlers.ts";
import { streamDownload } from "./stream-task.ts";

/** What the download service depends on. */
export interface DownloadServiceDeps {
  storage: Storage;
  taskManager: TaskManager;
  sources: SourceRegistry;
  schedulers: SchedulerClient;
  hostId: string;
  log: Logger;
  /** Persistent cache tasks (dfcache); their RPCs are unimplemented without it. */
  persistentCache?: PersistentCacheManager;
}

/** Hashes a file with a digest's algorithm and compares. */
export async function verifyFileDigest(path: string, expected: string): Promise<void> {
  const parsed = parseDigest(expected);
  const hasher = createFileHasher(parsed.algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hasher.update(chunk as Uint8Array);
  const actual = hasher.digest();
  if (actual !== `${parsed.algorithm}:${parsed.value}`) throw new DigestMismatch("the downloaded file", expected, actual);
}

/** Registers DfdaemonDownload on a router. */
export function downloadRoutes(deps: DownloadServiceDeps): (router: ConnectRouter) => void {
  return (router) =>
    router.service(DfdaemonDownload, {
      ...(deps.persistentCache
        ? persistentCacheDownloadHandlers({ persistentCache: deps.persistentCache, storage: deps.storage, hostId: deps.hostId })
        : {}),
      async *downloadTask(request: DownloadTaskRequest, context: HandlerContext) {
        const download = request.download;
        if (!download) throw new InvalidArgument('Invalid request: field "download" is required');
        validateDownload(download);
        if (download.digest) parseDigest(download.digest);
        const output = download.outputPath || undefined;
        if (output && existsSync(output) && !download.overwrite) {
          throw new FailedPrecondition(`Cannot write "${output}": file exists (use --overwrite)`);
        }
        let taskId = "";
        yield* streamDownload(deps.taskManager, deps.storage, deps.hostId, download, context.signal, (event) => {
          taskId = event.taskId;
        });
        const task = deps.storage.require(taskId);
        if (download.digest && !download.range) {
          try {
            await verifyFileDigest(task.path, download.digest);
          } catch (error) {
            deps.storage.delete(taskId);
            throw error;
          }
        }
        if (output) {
          // A range download holds only its pieces: its output is the range's bytes, not the content file.
          const start = Number(download.range?.start ?? 0);
          const range = download.range && { start, length: Math.max(0, Math.min(Number(download.range.length), task.record.contentLength - start)) };
          deps.storage.export(taskId, output, { forceHardLink: download.forceHardLink, overwrite: download.overwrite, range });
        }
      },

      statTask: async (request) => statTask(deps.storage, request.taskId),

      statLocalTask: async (request) => statLocalTask(deps.storage, request.taskId),

      async listLocalTasks() {
        return create(ListLocalTasksResponseSchema, { tasks: deps.storage.list().map(toLocalTaskMessage) });
      },

      listTaskEntries: (request) => listTaskEntries(deps.sources, request),

      async deleteTask(request) {
        // dfcache delete: a persistent cache task is removed from every host that holds it.
        if (deps.persistentCache && (await deps.persistentCache.owns(request.taskId))) {
          await deps.persistentCache.deleteEverywhere(request.taskId);
          return create(EmptySchema);
        }
        const existed = deps.storage.delete(request.taskId);
        await deps.schedulers.deleteTask(request.taskId).catch(() => {});
        if (!existed) throw new TaskNotFound(request.taskId);
        return create(EmptySchema);
      },

      async deleteLocalTask(request) {
        if (!deps.storage.delete(request.taskId)) throw new TaskNotFound(request.taskId);
        return create(EmptySchema);
      },

      async deleteHost() {
        await deps.schedulers.stop();
        return create(EmptySchema);
      },
    });
}
