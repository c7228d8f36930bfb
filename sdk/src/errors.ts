/** One error type for everything the SDK throws, with a stable code to branch on. */

/**
 * What went wrong, as a stable string. RPC failures use the gRPC code's name; HTTP failures of the manager are
 * mapped onto the same names (400/422 `invalid_argument`, 401 `unauthenticated`, 403 `permission_denied`, 404
 * `not_found`, 409 `conflict`, 429 `resource_exhausted`, 5xx `internal` or `unavailable`).
 */
export type SdkErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated"
  | "conflict";

/** An origin's answer that made a download fail (Dragonfly's `errordetails.v2.Backend`). */
export interface BackendDetail {
  message: string;
  statusCode?: number;
  header: Record<string, string>;
}

/** Options of an SdkError. */
export interface SdkErrorOptions {
  cause?: unknown;
  /** The HTTP status of a manager answer. */
  status?: number;
  /** The origin's answer, when the daemon attached one. */
  backend?: BackendDetail;
}

/** An error of the SDK: `code` says what kind, `message` says what happened in words. */
export class SdkError extends Error {
  override readonly name = "SdkError";
  /** What went wrong, as a stable string. */
  readonly code: SdkErrorCode;
  /** The HTTP status of a manager answer. */
  readonly status?: number;
  /** The origin's answer, when the daemon attached one. */
  readonly backend?: BackendDetail;

  constructor(code: SdkErrorCode, message: string, options: SdkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.backend !== undefined) this.backend = options.backend;
  }
}

/** Whether a value is an SdkError, optionally of one code. */
export function isSdkError(value: unknown, code?: SdkErrorCode): value is SdkError {
  return value instanceof SdkError && (code === undefined || value.code === code);
}
