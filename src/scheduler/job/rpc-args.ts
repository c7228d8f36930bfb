/** scheduler.v2 PreheatImage and PreheatFile requests as preheat job args, so both paths run the same code. */
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { PreheatFileRequest, PreheatImageRequest } from "../../gen/scheduler/v2/scheduler_pb.ts";
import type { PreheatArgs } from "./preheat.ts";

function common(request: PreheatImageRequest | PreheatFileRequest): Omit<PreheatArgs, "type"> {
  return {
    piece_length: request.pieceLength !== undefined ? Number(request.pieceLength) : undefined,
    tag: request.tag,
    application: request.application,
    filtered_query_params: request.filteredQueryParams.join("&"),
    headers: { ...request.header },
    scope: request.scope,
    ips: request.ips,
    count: request.count,
    percentage: request.percentage,
    concurrent_task_count: request.concurrentTaskCount,
    concurrent_peer_count: request.concurrentPeerCount,
    timeout: request.timeout ? durationMs(request.timeout) * 1e6 : undefined,
  };
}

/** The args of an image preheat. */
export function preheatImageArgs(request: PreheatImageRequest): PreheatArgs {
  return { type: "image", url: request.url, username: request.username, password: request.password, platform: request.platform, ...common(request) };
}

/** The args of a file preheat. */
export function preheatFileArgs(request: PreheatFileRequest): PreheatArgs {
  return { type: "file", urls: request.urls, ...common(request) };
}
