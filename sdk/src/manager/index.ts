/** `@libellula/sdk/manager`: a typed client of the manager's REST API, its types generated from openapi.yaml. */
export { createManagerClient, DEFAULT_JOB_TIMEOUT_MS, DEFAULT_POLL_INTERVAL_MS } from "./client.ts";
export type {
  CreateTokenOptions,
  JobProgress,
  ManagerClient,
  ManagerClientOptions,
  Method,
  Operation,
  PathsWith,
  PreheatArgs,
  RequestArgs,
  RequestInit,
  ResponseOf,
  WaitForJobOptions,
} from "./client.ts";
export type * from "./schema.gen.ts";
export { SdkError, isSdkError } from "../errors.ts";
export type { SdkErrorCode } from "../errors.ts";
