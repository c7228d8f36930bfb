/**
 * Stands in for PGlite (and drizzle's PGlite driver) in the Workers bundle: the edge manager always talks to
 * PostgreSQL through DATABASE_URL, and PGlite's WebAssembly and file system needs have no place on workerd.
 */
function unavailable(): never {
  throw new Error("Cannot open an embedded database on the edge: set DATABASE_URL to a PostgreSQL URL");
}

/** Throws on use: the edge manager has no embedded database. */
export class PGlite {
  /** Throws: see unavailable(). */
  static create(): never {
    return unavailable();
  }
}

/** Throws on use: the edge manager has no embedded database. */
export function drizzle(): never {
  return unavailable();
}
