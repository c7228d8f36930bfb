/** Libellula's version, reported in builds and host announcements, and the build's commit and date. */
export const VERSION = "0.1.0";

// Set by `bun build --define` in scripts/build.ts; undeclared (so "unknown") when running from source.
declare const LIBELLULA_BUILD_COMMIT: string | undefined;
declare const LIBELLULA_BUILD_DATE: string | undefined;

/** The git commit a compiled binary was built from ("-dirty" when the tree had changes), else "unknown". */
export const COMMIT: string =
  typeof LIBELLULA_BUILD_COMMIT === "string" && LIBELLULA_BUILD_COMMIT !== "" ? LIBELLULA_BUILD_COMMIT : "unknown";

/** When a compiled binary was built (ISO 8601, UTC), else "unknown". */
export const BUILD_DATE: string =
  typeof LIBELLULA_BUILD_DATE === "string" && LIBELLULA_BUILD_DATE !== "" ? LIBELLULA_BUILD_DATE : "unknown";

/** What `<command> --version` prints: `dfget 0.1.0 (commit 1a2b3c4d5e6f, built 2026-01-02T03:04:05Z)`. */
export function versionLine(command: string): string {
  return `${command} ${VERSION} (commit ${COMMIT}, built ${BUILD_DATE})`;
}
