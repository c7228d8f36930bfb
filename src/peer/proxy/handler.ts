/**
 * The proxy's decision for one request: GETs that match a rule (or carry `X-Dragonfly-Use-P2P: true`) are
 * served from a P2P task, everything else is forwarded to the upstream untouched. Works on Web `Request`-like
 * input and returns a Web `Response`, so the HTTP server around it stays thin.
 */
import { copyFileSync, linkSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { create } from "@bufbuild/protobuf";
import { DownloadSchema, Priority, TaskType, type Download } from "../../gen/common/v2/common_pb.ts";
import { InvalidArgument, LibellulaError, SourceError, errorMessage } from "../../common/errors.ts";
import { DEFAULT_FILTERED_QUERY_PARAMS } from "../../common/ids.ts";
import type { Logger } from "../../common/log.ts";
import type { Counter } from "../../common/metrics.ts";
import type { DownloadEvent, DownloadRequestOptions } from "../download/task-manager.ts";
import { taskIdOf } from "../download/task-manager.ts";
import type { StoredTask } from "../storage/storage.ts";
import { TaskAuthorizer } from "./authorization.ts";
import {
  DRAGONFLY_HEADER,
  HOP_BY_HOP,
  booleanHeader,
  clientResponseHeaders,
  headerOptions,
  parseRange,
  type ErrorType,
} from "./headers.ts";
import { DEFAULT_RULE, downloadUrl, matchRule, type ProxyRule } from "./rules.ts";
import { taskStream, type ArrivingPiece } from "./task-stream.ts";
import { forward, type UpstreamTls } from "./upstream.ts";

/** A request as the proxy sees it: the absolute upstream URL and the client's headers and body. */
export interface ProxyRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  clientIp: string;
  /** TLS settings of the upstream, when it is https. */
  tls?: UpstreamTls;
}

/** What the handler uses of the task manager and storage. */
export interface ProxyTasks {
  download(download: Download, signal?: AbortSignal, options?: DownloadRequestOptions): AsyncGenerator<DownloadEvent>;
  activeTaskIds(): Set<string>;
}

/** Proxy settings from `proxy.*`. */
export interface ProxyHandlerSettings {
  rules: ProxyRule[];
  disableBackToSource: boolean;
  prefetch: boolean;
  readBufferSize: number;
  enableTaskIdBasedBlobDigest: boolean;
  authorizationCacheTtlMs: number;
}

/** The proxy's counters. */
export interface ProxyMetrics {
  requests: Counter;
  p2pBytes: Counter;
}

/** Dependencies of the handler. */
export interface ProxyHandlerDeps {
  tasks: ProxyTasks;
  storage: {
    get(taskId: string): StoredTask | undefined;
    /** Pieces arriving now, whose landed bytes a response may send before the piece is finished. */
    inflight: { get(taskId: string, number: number): ArrivingPiece | undefined };
  };
  settings: ProxyHandlerSettings;
  serverIp: string;
  log: Logger;
  metrics?: ProxyMetrics;
}

/** Request headers that never reach the back-to-source request of a task. */
const NOT_FOR_SOURCE = new Set(["host", "range", "if-range", "if-none-match", "if-modified-since", "accept-encoding", "content-length"]);
/** Origin response headers that describe one response, not the task's bytes. */
const NOT_FROM_SOURCE = new Set(["content-length", "content-range", "content-encoding", "date", "accept-ranges"]);
/** Statuses whose responses have no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** An error response with `X-Dragonfly-Error-Type`. */
export function errorResponse(status: number, type: ErrorType, message: string, extra?: Headers): Response {
  const headers = extra ?? new Headers();
  headers.set("content-type", "application/json");
  headers.set(DRAGONFLY_HEADER.errorType, type);
  headers.delete("content-length");
  return new Response(JSON.stringify({ message }), { status, headers });
}

/** Turns a fetched upstream response into one for the client (hop-by-hop headers dropped, body streamed). */
export function relay(response: Response, method: string): Response {
  const headers = clientResponseHeaders(response.headers);
  const body = method === "HEAD" || NULL_BODY.has(response.status) ? null : response.body;
  if (body === null) void response.body?.cancel().catch(() => {});
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** The request's headers as the task's back-to-source headers. */
function sourceHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    if (HOP_BY_HOP.has(key) || NOT_FOR_SOURCE.has(key) || key.startsWith("x-dragonfly-")) return;
    out[key] = value;
  });
  return out;
}

/** Creates the request handler. */
export function createProxyHandler(deps: ProxyHandlerDeps): (request: ProxyRequest, signal: AbortSignal) => Promise<Response> {
  const { settings, log } = deps;
  const authorizer = new TaskAuthorizer(settings.authorizationCacheTtlMs);

  const passThrough = async (request: ProxyRequest, signal: AbortSignal): Promise<Response> => {
    deps.metrics?.requests.inc({ type: "forward" });
    try {
      const response = await forward({ ...request, url: request.url.href, signal });
      return relay(response, request.method);
    } catch (error) {
      if (signal.aborted) throw error;
      log.debug("Upstream unreachable", { url: request.url.href, error: errorMessage(error) });
      return errorResponse(502, "proxy", `Cannot reach upstream "${request.url.host}": ${errorMessage(error)}`);
    }
  };

  const p2p = async (request: ProxyRequest, rule: ProxyRule, signal: AbortSignal): Promise<Response> => {
    let download: Download;
    let taskId: string;
    const rangeHeader = request.headers.get("range");
    try {
      const options = headerOptions(request.headers);
      download = create(DownloadSchema, {
        url: downloadUrl(request.url, rule),
        type: TaskType.STANDARD,
        tag: options.tag,
        application: options.application,
        priority: options.priority as Priority,
        filteredQueryParams: options.filteredQueryParams ?? rule.filteredQueryParams ?? [...DEFAULT_FILTERED_QUERY_PARAMS],
        requestHeader: sourceHeaders(request.headers),
        pieceLength: options.pieceLength === undefined ? undefined : BigInt(options.pieceLength),
        outputPath: options.outputPath,
        forceHardLink: options.forceHardLink,
        disableBackToSource: settings.disableBackToSource,
        prefetch: rangeHeader !== null ? (options.prefetch ?? settings.prefetch) : false,
        contentForCalculatingTaskId: options.contentForCalculatingTaskId,
        enableTaskIdBasedBlobDigest: options.enableTaskIdBasedBlobDigest ?? settings.enableTaskIdBasedBlobDigest,
        remoteIp: request.clientIp,
      } as Parameters<typeof create<typeof DownloadSchema>>[1]);
      taskId = taskIdOf(download);
    } catch (error) {
      return errorResponse(400, "proxy", errorMessage(error));
    }

    // A task someone else brought in is served only to a client the upstream would serve too.
    const cached = deps.storage.get(taskId) !== undefined || deps.tasks.activeTaskIds().has(taskId);
    if (cached) {
      const verdict = await authorizer.check(taskId, download.url, request.headers, request.tls, signal);
      if (!verdict.allowed) {
        log.info("Cached task refused to a client the upstream does not authorize", { taskId, reason: verdict.reason, client: request.clientIp });
        return passThrough(request, signal);
      }
    }

    const abort = new AbortController();
    const onAbort = () => abort.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    // A single satisfiable range has only its pieces fetched (and, with prefetch, the rest in the background);
    // several ranges or an unparsable header fetch the whole task, which is then served whole.
    const rangeOf = (contentLength: number) => {
      const range = parseRange(rangeHeader, contentLength);
      return range === "unsatisfiable" ? null : range;
    };
    const events = deps.tasks.download(download, abort.signal, rangeHeader === null ? {} : { range: rangeOf });
    let started: Extract<DownloadEvent, { kind: "started" }>;
    try {
      const first = await events.next();
      if (first.done || first.value.kind !== "started") throw new Error("Download ended before it started");
      started = first.value;
    } catch (error) {
      signal.removeEventListener("abort", onAbort);
      abort.abort();
      if (signal.aborted) throw error;
      if (error instanceof SourceError && error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        // The client gets the upstream's own answer (status, headers such as WWW-Authenticate, and body).
        return passThrough(request, signal);
      }
      return downloadError(error, taskId);
    }
    if (!cached) authorizer.grant(taskId, request.headers);
    deps.metrics?.requests.inc({ type: "p2p" });

    const headers = new Headers();
    for (const [key, value] of Object.entries(started.responseHeader)) {
      const lower = key.toLowerCase();
      if (HOP_BY_HOP.has(lower) || NOT_FROM_SOURCE.has(lower)) continue;
      try {
        headers.set(key, value);
      } catch {
        // An origin header Headers cannot hold is dropped.
      }
    }
    headers.set("accept-ranges", "bytes");
    headers.set(DRAGONFLY_HEADER.taskId, started.taskId);
    headers.set(DRAGONFLY_HEADER.serverIp, deps.serverIp);
    if (started.isFinished) headers.set(DRAGONFLY_HEADER.taskDownloadFinished, "true");

    const total = started.contentLength;
    const range = parseRange(rangeHeader, total);
    if (range === "unsatisfiable") {
      await events.return(undefined).catch(() => {});
      abort.abort();
      signal.removeEventListener("abort", onAbort);
      headers.set("content-range", `bytes */${total}`);
      return errorResponse(416, "proxy", `Range "${request.headers.get("range")}" is outside the content (${total} bytes)`, headers);
    }
    const start = range?.start ?? 0;
    const length = range?.length ?? total;
    headers.set("content-length", String(length));
    if (range) headers.set("content-range", `bytes ${start}-${start + length - 1}/${total}`);
    const task = deps.storage.get(started.taskId);
    if (!task) {
      abort.abort();
      signal.removeEventListener("abort", onAbort);
      return downloadError(new Error(`Task "${started.taskId}" vanished from storage`), started.taskId);
    }
    const outputPath = download.outputPath;
    const body = taskStream({
      events,
      path: task.path,
      pieceLength: started.pieceLength,
      start,
      length,
      bufferSize: settings.readBufferSize,
      available: [],
      arriving: (piece) => deps.storage.inflight.get(started.taskId, piece),
      onClose: ({ bytes, error }) => {
        signal.removeEventListener("abort", onAbort);
        abort.abort();
        deps.metrics?.p2pBytes.inc({}, bytes);
        if (error !== undefined) {
          log.info("P2P response ended early", { taskId: started.taskId, bytes, error: errorMessage(error) });
        } else if (outputPath && !range) {
          writeOutput(task.path, outputPath, download.forceHardLink, log);
        }
      },
    });
    return new Response(length === 0 ? null : body, { status: range ? 206 : 200, headers });
  };

  return async (request, signal) => {
    try {
      if (request.method === "GET") {
        let rule = matchRule(settings.rules, request.url);
        if (!rule && booleanHeader(request.headers, DRAGONFLY_HEADER.useP2P) === true) rule = DEFAULT_RULE;
        if (rule) return await p2p(request, rule, signal);
      }
      return await passThrough(request, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof InvalidArgument) return errorResponse(400, "proxy", errorMessage(error));
      log.warn("Proxy request failed", { url: request.url.href, error: errorMessage(error) });
      return errorResponse(500, "proxy", errorMessage(error));
    }
  };
}

/** The response for a download that could not start. */
function downloadError(error: unknown, taskId: string): Response {
  if (error instanceof SourceError) {
    const headers = new Headers();
    for (const [key, value] of Object.entries(error.header)) {
      const lower = key.toLowerCase();
      if (HOP_BY_HOP.has(lower) || lower === "content-length" || lower === "content-encoding") continue;
      try {
        headers.set(key, value);
      } catch {
        // Dropped, as above.
      }
    }
    headers.set(DRAGONFLY_HEADER.taskId, taskId);
    return errorResponse(error.statusCode ?? 502, "backend", errorMessage(error), headers);
  }
  const headers = new Headers({ [DRAGONFLY_HEADER.taskId]: taskId });
  if (error instanceof InvalidArgument) return errorResponse(400, "proxy", errorMessage(error), headers);
  const status = error instanceof LibellulaError && error.code === "FailedPrecondition" ? 502 : 500;
  return errorResponse(status, "dfdaemon", errorMessage(error), headers);
}

/** Places a finished task's content at `X-Dragonfly-Output-Path` (hard link when possible, else a copy). */
function writeOutput(contentPath: string, outputPath: string, forceHardLink: boolean, log: Logger): void {
  try {
    mkdirSync(dirname(outputPath), { recursive: true });
    rmSync(outputPath, { force: true });
    try {
      linkSync(contentPath, outputPath);
    } catch (error) {
      if (forceHardLink) throw error;
      copyFileSync(contentPath, outputPath);
    }
  } catch (error) {
    log.warn("Cannot write the output path", { outputPath, error: errorMessage(error) });
  }
}
