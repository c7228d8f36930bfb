/** The manager's errors beyond the common catalogue, and the translation of database driver errors. */
import { FailedPrecondition, InvalidArgument, LibellulaError, NotFound } from "../common/errors.ts";

export { FailedPrecondition, InvalidArgument, NotFound };

/** A row with the same unique key exists. */
export class Conflict extends LibellulaError {
  override readonly code = "AlreadyExists";
}

/** No credentials, or credentials that are invalid or expired. */
export class Unauthenticated extends LibellulaError {
  override readonly code = "Unauthenticated";
}

/** Valid credentials without the permission asked for. */
export class PermissionDenied extends LibellulaError {
  override readonly code = "PermissionDenied";
}

/** Too many requests in a window. */
export class RateLimited extends LibellulaError {
  override readonly code = "ResourceExhausted";
}

/** HTTP status of each error code. */
export const HTTP_STATUS: Record<string, number> = {
  InvalidArgument: 400,
  Unauthenticated: 401,
  PermissionDenied: 403,
  NotFound: 404,
  AlreadyExists: 409,
  FailedPrecondition: 409,
  ResourceExhausted: 429,
};

/** The PostgreSQL SQLSTATE of a driver error, looking through drizzle's wrappers. */
export function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns driver errors into catalogue errors so that none crosses a boundary; others pass through. */
export function fromDriverError(error: unknown, what = "Resource"): unknown {
  if (error instanceof LibellulaError) return error;
  const state = sqlState(error);
  if (state === "23505") return new Conflict(`${what} already exists`, { cause: error });
  if (state === "23503") return new FailedPrecondition(`${what} is referenced by or references a missing row`, { cause: error });
  if (state?.startsWith("22")) return new InvalidArgument(`Invalid value for ${what.toLowerCase()}`, { cause: error });
  return error;
}

/** Runs a write and translates driver errors. */
export async function guard<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw fromDriverError(error, what);
  }
}
