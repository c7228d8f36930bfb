/** Handlers that DfdaemonUpload and DfdaemonDownload share. */
import { create } from "@bufbuild/protobuf";
import type { Task } from "../../gen/common/v2/common_pb.ts";
import {
  ListTaskEntriesResponseSchema,
  type ListTaskEntriesRequest,
  type ListTaskEntriesResponse,
  type StatLocalTaskResponse,
} from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { InvalidArgument, TaskNotFound } from "../../common/errors.ts";
import { sourceOptionsOf, type SourceRegistry } from "../source/source.ts";
import type { Storage } from "../storage/storage.ts";
import { toLocalTaskMessage, toTaskMessage } from "./convert.ts";

/** StatTask: the stored task, or NotFound. */
export function statTask(storage: Storage, taskId: string): Task {
  const task = storage.get(taskId);
  if (!task) throw new TaskNotFound(taskId);
  return toTaskMessage(task);
}

/** StatLocalTask: the stored task's local record, or NotFound. */
export function statLocalTask(storage: Storage, taskId: string): StatLocalTaskResponse {
  const task = storage.get(taskId);
  if (!task) throw new TaskNotFound(taskId);
  return toLocalTaskMessage(task);
}

/** ListTaskEntries: a directory listing from the URL's backend. */
export async function listTaskEntries(sources: SourceRegistry, request: ListTaskEntriesRequest): Promise<ListTaskEntriesResponse> {
  const source = sources.for(request.url);
  if (!source.list) throw new InvalidArgument(`Invalid URL "${request.url}": its scheme has no directories`);
  const entries = await source.list({ url: request.url, header: request.requestHeader, ...sourceOptionsOf(request) });
  return create(ListTaskEntriesResponseSchema, {
    entries: entries.map((e) => ({ url: e.url, contentLength: BigInt(e.contentLength), isDir: e.isDir })),
  });
}
