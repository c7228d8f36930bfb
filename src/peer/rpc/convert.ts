/** Conversions from stored tasks to their protobuf forms. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SizeScope, TaskSchema, TaskType, type Task } from "../../gen/common/v2/common_pb.ts";
import { StatLocalTaskResponseSchema, type StatLocalTaskResponse } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { pieceCount, sizeScope } from "../../common/piece.ts";
import { toPieceMessage } from "../download/pieces.ts";
import type { StoredTask } from "../storage/storage.ts";

const STATES: Record<string, string> = { running: "Running", succeeded: "Succeeded", failed: "Failed", partial: "Partial" };

/** A stored task as common.v2.Task. */
export function toTaskMessage(task: StoredTask): Task {
  const { record } = task;
  const count = pieceCount(record.contentLength, record.pieceLength);
  return create(TaskSchema, {
    id: record.id,
    type: TaskType.STANDARD,
    url: record.url,
    requestHeader: {},
    contentLength: BigInt(record.contentLength),
    pieceCount: count,
    sizeScope: SizeScope[sizeScope(record.contentLength, count) as keyof typeof SizeScope],
    pieces: [...task.pieces.values()].sort((a, b) => a.number - b.number).map((p) => toPieceMessage(p)),
    state: STATES[record.state] ?? record.state,
    peerCount: 1,
    hasAvailablePeer: record.state === "succeeded",
    createdAt: timestampFromMs(record.createdAt),
    updatedAt: timestampFromMs(record.updatedAt),
  });
}

/** A stored task as StatLocalTaskResponse. */
export function toLocalTaskMessage(task: StoredTask): StatLocalTaskResponse {
  const { record } = task;
  return create(StatLocalTaskResponseSchema, {
    taskId: record.id,
    pieceLength: BigInt(record.pieceLength),
    contentLength: BigInt(record.contentLength),
    responseHeader: record.responseHeader,
    uploadingCount: 0n,
    uploadedCount: BigInt(record.uploadedCount),
    createdAt: timestampFromMs(record.createdAt),
    updatedAt: timestampFromMs(record.updatedAt),
    finishedAt: record.finishedAt ? timestampFromMs(record.finishedAt) : undefined,
    failedAt: record.failedAt ? timestampFromMs(record.failedAt) : undefined,
  });
}
