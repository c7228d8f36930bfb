/** The `X-Dragonfly-*` headers the proxy reads and writes, and how request headers are passed on. */
import { InvalidArgument } from "../../common/errors.ts";
import { MIN_PIECE_LENGTH } from "../../common/piece.ts";
import { parseByteSize } from "../../common/units.ts";

/** Header names, lower case as HTTP/1 parsers hand them over. */
export const DRAGONFLY_HEADER = {
  tag: "x-dragonfly-tag",
  application: "x-dragonfly-application",
  priority: "x-dragonfly-priority",
  registry: "x-dragonfly-registry",
  filteredQueryParams: "x-dragonfly-filtered-query-params",
  useP2P: "x-dragonfly-use-p2p",
  prefetch: "x-dragonfly-prefetch",
  outputPath: "x-dragonfly-output-path",
  forceHardLink: "x-dragonfly-force-hard-link",
  pieceLength: "x-dragonfly-piece-length",
  contentForCalculatingTaskId: "x-dragonfly-content-for-calculating-task-id",
  enableTaskIdBasedBlobDigest: "x-dragonfly-enable-task-id-based-blob-digest",
  taskId: "x-dragonfly-task-id",
  serverIp: "x-dragonfly-server-ip",
  taskDownloadFinished: "x-dragonfly-task-download-finished",
  errorType: "x-dragonfly-error-type",
} as const;

/** Where an error came from, as `X-Dragonfly-Error-Type` says. */
export type ErrorType = "backend" | "proxy" | "dfdaemon";

/** Dragonfly's default priority (LEVEL6). */
export const DEFAULT_PRIORITY = 6;

/** Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request headers for the upstream: hop-by-hop ones, those the Connection header names, and Host dropped. */
export function upstreamRequestHeaders(headers: Headers): Headers {
  const out = new Headers();
  const named = new Set((headers.get("connection") ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean));
  headers.forEach((value, key) => {
    if (HOP_BY_HOP.has(key) || named.has(key) || key === "host") return;
    out.append(key, value);
  });
  return out;
}

/** Response headers for the client: hop-by-hop ones dropped. */
export function clientResponseHeaders(headers: Headers): Headers {
  const out = new Headers();
  const named = new Set((headers.get("connection") ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean));
  headers.forEach((value, key) => {
    if (HOP_BY_HOP.has(key) || named.has(key)) return;
    out.append(key, value);
  });
  return out;
}

/** A boolean header: `true`/`false` (any case), or undefined when absent; anything else is InvalidArgument. */
export function booleanHeader(headers: Headers, name: string): boolean | undefined {
  const value = headers.get(name);
  if (value === null) return undefined;
  const lower = value.trim().toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  throw new InvalidArgument(`Invalid header "${name}": expected "true" or "false", got "${value}"`);
}

/** The options of a P2P download that request headers carry. */
export interface HeaderOptions {
  tag: string;
  application: string;
  priority: number;
  filteredQueryParams?: string[];
  prefetch?: boolean;
  outputPath?: string;
  forceHardLink: boolean;
  pieceLength?: number;
  contentForCalculatingTaskId?: string;
  enableTaskIdBasedBlobDigest?: boolean;
}

/** Reads the `X-Dragonfly-*` options of a request; throws InvalidArgument naming the header. */
export function headerOptions(headers: Headers): HeaderOptions {
  const h = DRAGONFLY_HEADER;
  let priority = DEFAULT_PRIORITY;
  const priorityText = headers.get(h.priority);
  if (priorityText !== null) {
    priority = Number(priorityText);
    if (!Number.isInteger(priority) || priority < 0 || priority > 6) {
      throw new InvalidArgument(`Invalid header "${h.priority}": expected an integer from 0 to 6, got "${priorityText}"`);
    }
  }
  let pieceLength: number | undefined;
  const pieceText = headers.get(h.pieceLength);
  if (pieceText !== null) {
    try {
      pieceLength = parseByteSize(pieceText);
    } catch {
      throw new InvalidArgument(`Invalid header "${h.pieceLength}": expected a size such as "4mib", got "${pieceText}"`);
    }
    if (pieceLength < MIN_PIECE_LENGTH) {
      throw new InvalidArgument(`Invalid header "${h.pieceLength}": must be at least ${MIN_PIECE_LENGTH} bytes, got "${pieceText}"`);
    }
  }
  const filtered = headers.get(h.filteredQueryParams);
  const outputPath = headers.get(h.outputPath) ?? undefined;
  if (outputPath !== undefined && !outputPath.startsWith("/")) {
    throw new InvalidArgument(`Invalid header "${h.outputPath}": must be an absolute path, got "${outputPath}"`);
  }
  return {
    tag: headers.get(h.tag) ?? "",
    application: headers.get(h.application) ?? "",
    priority,
    filteredQueryParams: filtered === null ? undefined : filtered.split(",").map((p) => p.trim()).filter(Boolean),
    prefetch: booleanHeader(headers, h.prefetch),
    outputPath,
    forceHardLink: booleanHeader(headers, h.forceHardLink) ?? false,
    pieceLength,
    contentForCalculatingTaskId: headers.get(h.contentForCalculatingTaskId) ?? undefined,
    enableTaskIdBasedBlobDigest: booleanHeader(headers, h.enableTaskIdBasedBlobDigest),
  };
}

/** A single `Range: bytes=…` of a known length, resolved to start and length; undefined when absent or unusable. */
export type RangeResult = { start: number; length: number } | "unsatisfiable" | undefined;

/** Parses a Range header against a content length (one range only; several ranges are served whole). */
export function parseRange(header: string | null, contentLength: number): RangeResult {
  if (header === null) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, contentLength);
    return contentLength === 0 ? "unsatisfiable" : { start: contentLength - length, length };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start) || start >= contentLength) return "unsatisfiable";
  let end = last === "" ? contentLength - 1 : Number(last);
  if (!Number.isSafeInteger(end) || end < start) return end < start ? undefined : "unsatisfiable";
  end = Math.min(end, contentLength - 1);
  return { start, length: end - start + 1 };
}
