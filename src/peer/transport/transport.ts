/** The seam between piece downloads and the wire: Vortex TCP, with compression and RDMA negotiated per connection. */
import { errorMessage } from "../../common/errors.ts";
import type { RateLimiter } from "../../common/rate-limiter.ts";
import { createLogger, type Logger } from "../../common/log.ts";
import { ParentRates, pieceKey, type CompressionPolicy, type DownloadCompression } from "./compression/policy.ts";
import { DecompressionError } from "./compression/zstd.ts";
import type { TransportMetrics } from "./metrics.ts";
import type { PendingRead, RdmaEngine } from "./rdma/engine.ts";
import { RdmaError } from "./rdma/errors.ts";
import { downloadPiece, type DownloadPieceOptions, type DownloadPieceResult } from "./vortex/client.ts";
import { downloadPieceExtended, ExtensionUnsupported, type ExtendedDownloadResult } from "./vortex/extended-client.ts";

/** Moves one piece from a parent to the caller's `write`. */
export interface PieceTransport {
  /** A short name for logs and metrics, such as `tcp`. */
  readonly name: string;
  download(options: DownloadPieceOptions): Promise<DownloadPieceResult>;
}

/** Defaults applied to every download of a transport, overridable per call. */
export type PieceTransportDefaults = Pick<DownloadPieceOptions, "connectTimeoutMs" | "timeoutMs"> & { metrics?: TransportMetrics };

/** The default transport: Vortex over TCP, one connection per piece. */
export function createTcpPieceTransport(defaults: PieceTransportDefaults = {}): PieceTransport {
  return {
    name: "tcp",
    download: (options) => {
      const request = {
        ...options,
        connectTimeoutMs: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
        timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
      };
      return options.streamed ? downloadStreamed(request, defaults.metrics) : downloadPiece(request);
    },
  };
}

/**
 * A transport whose downloads are charged to `limiter` before they start, a piece's length at a time (as
 * Dragonfly charges its download bandwidth limit); `expectedLength` must be set on every request.
 */
export function limitedPieceTransport(transport: PieceTransport, limiter: RateLimiter): PieceTransport {
  return {
    name: transport.name,
    download: async (options) => {
      await limiter.take(options.expectedLength ?? 0, options.signal);
      return transport.download(options);
    },
  };
}

/** Hello of a request that takes a piece still arriving at the parent, with nothing else negotiated. */
const STREAMED_ONLY = { acceptsZstd: false, plainRate: 0, compressedRate: 0, acceptsStreamed: true } as const;

/** Asks for a piece the parent announced as still arriving: the extension Hello, accepting it streamed. */
async function downloadStreamed(request: DownloadPieceOptions, metrics: TransportMetrics | undefined): Promise<DownloadPieceResult> {
  const result = await downloadPieceExtended({ ...request, hello: STREAMED_ONLY });
  if (result.mode === "streamed") metrics?.streamedPieces.inc({ direction: "download" });
  return result;
}

/** How long a parent without the extension, or without working RDMA, is asked plainly before trying again. */
export const DEFAULT_PLAIN_RETRY_MS = 10 * 60_000;
/** Tasks remembered as not worth compressing. */
const MAX_PLAIN_TASKS = 4096;
/** Buffer registered for an RDMA piece when the caller does not say how long the piece is (the largest piece). */
const DEFAULT_RDMA_BUFFER = 64 * 1024 * 1024;

/** Options of {@link createPieceTransport}. */
export interface PieceTransportOptions extends PieceTransportDefaults {
  /** `none` sends plain Vortex only; `auto` and `zstd` ask parents for compressed pieces. */
  compression?: DownloadCompression;
  /** An opened RDMA device: pieces are offered to parents by RDMA READ. */
  rdma?: RdmaEngine;
  metrics?: TransportMetrics;
  log?: Logger;
  plainRetryMs?: number;
  /**
   * The upload side's compression cache: pieces that arrive compressed are kept there as they came, so this
   * daemon serves them to its own children without compressing them again.
   */
  relayCache?: CompressionPolicy;
}

/**
 * The piece transport of a daemon: plain Vortex TCP when nothing else is enabled; otherwise the extension Hello
 * on every connection, falling back to plain Vortex for parents that do not speak it, to TCP when RDMA cannot be
 * set up (one log line per parent saying why), and fetching a piece again uncompressed when its compressed form
 * does not inflate to the right bytes.
 */
export function createPieceTransport(options: PieceTransportOptions = {}): PieceTransport {
  const compression = options.compression ?? "none";
  const rdma = options.rdma;
  if (compression === "none" && !rdma) return createTcpPieceTransport(options);
  const log = options.log ?? createLogger({ component: "piece-transport" });
  const metrics = options.metrics;
  const retryMs = options.plainRetryMs ?? DEFAULT_PLAIN_RETRY_MS;
  const rates = new ParentRates();
  const relayCache = options.relayCache;
  /** Parents asked plainly until the time stored, by address. */
  const noExtension = new Map<string, number>();
  const noRdma = new Map<string, number>();
  /** Tasks a parent found not worth compressing: asked for plainly until the time stored, by kind and task. */
  const plainTasks = new Map<string, number>();
  const withDefaults = (download: DownloadPieceOptions): DownloadPieceOptions => ({
    ...download,
    connectTimeoutMs: download.connectTimeoutMs ?? options.connectTimeoutMs,
    timeoutMs: download.timeoutMs ?? options.timeoutMs,
  });
  const blocked = (map: Map<string, number>, address: string) => (map.get(address) ?? 0) > Date.now();

  const rdmaFallback = (address: string, reason: string) => {
    metrics?.rdmaFallbacks.inc({ reason: /refus|no usable|not found|no RDMA/i.test(reason) ? "refused" : "failed" });
    if (!blocked(noRdma, address)) log.info("RDMA not used with this parent; pieces go over TCP", { parent: address, reason });
    noRdma.set(address, Date.now() + retryMs);
  };

  const download = async (request: DownloadPieceOptions, allowRdma: boolean, allowCompression: boolean): Promise<DownloadPieceResult> => {
    const address = `${request.host}:${request.port}`;
    // A streamed piece goes over TCP as it arrives at the parent: neither RDMA nor compression applies.
    if (request.streamed) return downloadStreamed(request, metrics);
    const useRdma = allowRdma && rdma !== undefined && !blocked(noRdma, address);
    const task = `${request.kind ?? "standard"}:${request.taskId}`;
    const acceptsZstd = allowCompression && compression !== "none" && !blocked(plainTasks, task);
    if ((!useRdma && !acceptsZstd) || blocked(noExtension, address)) return downloadPiece(request);
    let pending: PendingRead | undefined;
    if (useRdma) {
      try {
        pending = rdma.prepare(request.expectedLength ?? DEFAULT_RDMA_BUFFER);
      } catch (error) {
        rdmaFallback(address, errorMessage(error));
        if (!acceptsZstd) return downloadPiece(request);
      }
    }
    const started = performance.now();
    let result: ExtendedDownloadResult;
    try {
      result = await downloadPieceExtended({
        ...request,
        hello: { acceptsZstd, ...rates.get(address) },
        keepBlocks: relayCache !== undefined && relayCache.mode !== "none",
        ...(pending ? { rdma: pending } : {}),
      });
    } catch (error) {
      if (request.signal?.aborted) throw error;
      if (error instanceof ExtensionUnsupported) {
        if (!blocked(noExtension, address)) log.info("Parent does not speak the Vortex extension; using plain Vortex", { parent: address, reason: errorMessage(error) });
        noExtension.set(address, Date.now() + retryMs);
        return downloadPiece(request);
      }
      if (error instanceof DecompressionError) {
        const reason = /digest mismatch/.test(error.message) ? "digest" : error.reason;
        metrics?.compressionFailures.inc({ reason });
        log.warn("Compressed piece refused; fetching it again uncompressed", { parent: address, number: request.number, reason, error: errorMessage(error) });
        return download(request, allowRdma, false);
      }
      if (error instanceof RdmaError && pending) {
        rdmaFallback(address, errorMessage(error));
        return download(request, false, allowCompression);
      }
      throw error;
    } finally {
      pending?.release();
    }
    if (result.ack.incompressible && !plainTasks.has(task)) {
      if (plainTasks.size >= MAX_PLAIN_TASKS) plainTasks.delete(plainTasks.keys().next().value as string);
      plainTasks.set(task, Date.now() + retryMs);
    }
    if (pending && !result.ack.rdma) rdmaFallback(address, result.ack.rdmaRefusal ?? "the parent did not accept RDMA");
    if (result.mode === "rdma") metrics?.rdmaPieces.inc({ direction: "download" });
    if (result.mode === "compressed") {
      metrics?.compressionRawBytes.inc({ direction: "download" }, result.bytes);
      metrics?.compressionWireBytes.inc({ direction: "download" }, result.wireBytes);
      if (relayCache && result.blocks && result.metadata.digest !== "") {
        relayCache.store(pieceKey(request.kind ?? "standard", request.taskId, request.number, result.metadata.digest), { blocks: result.blocks, bytes: result.wireBytes });
      }
    }
    if (result.mode !== "rdma") rates.record(address, result.mode === "compressed", result.bytes, performance.now() - started);
    metrics?.compressionPieces.inc({ direction: "download", decision: result.mode === "compressed" ? "compressed" : "plain" });
    return result;
  };

  return {
    name: rdma ? "rdma" : "tcp",
    download: (request) => download(withDefaults(request), true, true),
  };
}
