/** The catalogue of Libellula's errors; each boundary translates these once. */

/** Base class: every error carries a stable code used by RPC and HTTP translation. */
export class LibellulaError extends Error {
  /** A stable machine-readable code. */
  readonly code: string = "Unknown";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that fails validation: a request, a frame, a config key or a URL. */
export class InvalidArgument extends LibellulaError {
  override readonly code = "InvalidArgument";
}

/** A task that is not known here. */
export class TaskNotFound extends LibellulaError {
  override readonly code = "NotFound";
  constructor(readonly taskId: string, options?: { cause?: unknown }) {
    super(`Task "${taskId}" not found`, options);
  }
}

/** A piece that is not stored here. */
export class PieceNotFound extends LibellulaError {
  override readonly code = "NotFound";
  constructor(readonly taskId: string, readonly pieceNumber: number, options?: { cause?: unknown }) {
    super(`Piece "${taskId}-${pieceNumber}" not found`, options);
  }
}

/** A host, peer or other resource that is not known here. */
export class NotFound extends LibellulaError {
  override readonly code = "NotFound";
}

/** Bytes whose digest does not match the expected one. */
export class DigestMismatch extends LibellulaError {
  override readonly code = "DataLoss";
  constructor(readonly what: string, readonly expected: string, readonly actual: string) {
    super(`Cannot verify ${what}: digest mismatch: expected "${expected}", got "${actual}"`);
  }
}

/** A state machine asked to make a move its table does not allow. */
export class InvalidStateTransition extends LibellulaError {
  override readonly code = "FailedPrecondition";
  constructor(readonly machine: string, readonly from: string, readonly event: string) {
    super(`Invalid ${machine} transition: event "${event}" in state "${from}"`);
  }
}

/** An operation not allowed in the current state. */
export class FailedPrecondition extends LibellulaError {
  override readonly code = "FailedPrecondition";
}

/** An origin (source) failure, with the origin's status and headers when it answered. */
export class SourceError extends LibellulaError {
  override readonly code = "Source";
  constructor(
    message: string,
    readonly statusCode?: number,
    readonly header: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A peer-to-peer transfer failure (parent unreachable, bad frame, short read). */
export class TransferError extends LibellulaError {
  override readonly code = "Unavailable";
}

/** A deadline passed. */
export class Timeout extends LibellulaError {
  override readonly code = "DeadlineExceeded";
}

/** A full disk or other storage failure. */
export class StorageError extends LibellulaError {
  override readonly code = "ResourceExhausted";
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
