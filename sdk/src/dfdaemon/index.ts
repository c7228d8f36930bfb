/** `@libellula/sdk/dfdaemon`: a typed client of the local dfdaemon over its unix socket. */
export { createDfdaemonClient, DEFAULT_SOCKET_PATH, DEFAULT_REPLICAS, DEFAULT_TTL_MS, MIN_PIECE_LENGTH } from "./client.ts";
export type { DfdaemonClient, DfdaemonClientOptions } from "./client.ts";
export { DEFAULT_FILTERED_QUERY_PARAMS, isTaskId, taskIdOf } from "./task-id.ts";
export type { TaskIdParts } from "./task-id.ts";
export type * from "./types.ts";
export { SdkError, isSdkError } from "../errors.ts";
export type { BackendDetail, SdkErrorCode } from "../errors.ts";
export { DfdaemonDownload, DfdaemonUpload } from "../gen/dfdaemon/v2/dfdaemon_pb.ts";
