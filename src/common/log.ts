/** Structured logs: one JSON object per line on stderr, filtered by level. */

/** Log levels in increasing severity. */
export const LEVELS = ["debug", "info", "warn", "error"] as const;

/** A log level. */
export type Level = (typeof LEVELS)[number];

/** A logger bound to a component and fields. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

let threshold: number = LEVELS.indexOf((process.env.LIBELLULA_LOG_LEVEL as Level) ?? "info");
if (threshold < 0) threshold = 1;

/** Sets the minimum level written. */
export function setLogLevel(level: Level): void {
  threshold = LEVELS.indexOf(level);
}

/** Creates a logger whose lines carry `fields`. */
export function createLogger(fields: Record<string, unknown> = {}): Logger {
  const write = (level: Level, message: string, extra?: Record<string, unknown>) => {
    if (LEVELS.indexOf(level) < threshold) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields, ...extra }, (_k, v) =>
      v instanceof Error ? v.message : typeof v === "bigint" ? Number(v) : v,
    );
    process.stderr.write(`${line}\n`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (more) => createLogger({ ...fields, ...more }),
  };
}
