/** Streams a download as DownloadTaskResponse messages, shared by both dfdaemon services. */
import { create } from "@bufbuild/protobuf";
import type { Download } from "../../gen/common/v2/common_pb.ts";
import { DownloadTaskResponseSchema, type DownloadTaskResponse } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { toPieceMessage } from "../download/pieces.ts";
import type { DownloadEvent, TaskManager } from "../download/task-manager.ts";
import type { Storage } from "../storage/storage.ts";

/** Turns task-manager events into DownloadTaskResponse messages; `onEvent` sees each event first. */
export async function* streamDownload(
  taskManager: TaskManager,
  storage: Storage,
  hostId: string,
  download: Download,
  signal: AbortSignal,
  onEvent?: (event: DownloadEvent) => void,
): AsyncGenerator<DownloadTaskResponse> {
  for await (const event of taskManager.download(download, signal)) {
    onEvent?.(event);
    if (event.kind === "started") {
      yield create(DownloadTaskResponseSchema, {
        hostId,
        taskId: event.taskId,
        peerId: event.peerId,
        response: {
          case: "downloadTaskStartedResponse",
          value: {
            contentLength: BigInt(event.contentLength),
            range: download.range,
            responseHeader: event.responseHeader,
            pieces: event.pieces.map((p) => ({ number: p.number, offset: BigInt(p.offset), length: BigInt(p.length) })),
            isFinished: event.isFinished,
          },
        },
      });
    } else {
      const content = download.needPieceContent
        ? storage.read(event.taskId, event.piece.offset, event.piece.length)
        : undefined;
      yield create(DownloadTaskResponseSchema, {
        hostId,
        taskId: event.taskId,
        peerId: event.peerId,
        response: {
          case: "downloadPieceFinishedResponse",
          value: { piece: toPieceMessage(event.piece, event.trafficType, content) },
        },
      });
    }
  }
}
