/** Builds a daemon's piece transport and the matching Vortex server options from its configuration. */
import type { Logger } from "../../common/log.ts";
import { createPrecompressor, type StoredPiece } from "./compression/blocks.ts";
import { CompressionPolicy, type DownloadCompression, type UploadCompression } from "./compression/policy.ts";
import type { TransportMetrics } from "./metrics.ts";
import type { RdmaEngine } from "./rdma/engine.ts";
import { probeRdma, type RdmaProbe } from "./rdma/probe.ts";
import { createPieceTransport, type PieceTransport } from "./transport.ts";
import type { VortexServerOptions } from "./vortex/server.ts";

/** What a daemon configures. */
export interface DaemonTransportOptions {
  /** `rdma` uses RDMA where this host and the parent both can, TCP otherwise. */
  protocol: "tcp" | "rdma";
  /** Whether downloads ask parents for compressed pieces. */
  downloadCompression: DownloadCompression;
  /** Whether the Vortex server compresses for children that ask. */
  uploadCompression: UploadCompression;
  timeoutMs?: number;
  log: Logger;
  metrics?: TransportMetrics;
  /** Opens the RDMA device; probeRdma() by default. */
  probe?: () => RdmaProbe;
}

/** The transport, the server options and what to release at shutdown. */
export interface DaemonTransports {
  transport: PieceTransport;
  server: Pick<VortexServerOptions, "compression" | "rdma" | "rdmaUnavailableReason" | "metrics">;
  rdma: RdmaEngine | undefined;
  /** Hands a piece just fetched from the source to the compressor, so children asking for it find it compressed. */
  precompress(piece: StoredPiece): boolean;
  close(): void;
}

/** Chooses the transport: RDMA when asked for and usable (else TCP with one log line saying why), compression as configured. */
export function createDaemonTransports(options: DaemonTransportOptions): DaemonTransports {
  let rdma: RdmaEngine | undefined;
  let reason = "RDMA is not enabled on this parent (download.protocol is tcp)";
  if (options.protocol === "rdma") {
    const probe = (options.probe ?? probeRdma)();
    if (probe.engine) {
      rdma = probe.engine;
      options.log.info("RDMA enabled", { device: rdma.device });
    } else {
      reason = probe.reason;
      options.log.warn(`RDMA unavailable, using TCP: ${probe.reason}`);
    }
  }
  const compression = new CompressionPolicy({ mode: options.uploadCompression });
  const transport = createPieceTransport({
    compression: options.downloadCompression,
    ...(rdma ? { rdma } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    log: options.log,
    relayCache: compression,
  });
  return {
    transport,
    server: {
      compression,
      ...(rdma ? { rdma } : { rdmaUnavailableReason: reason }),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    },
    rdma,
    precompress: createPrecompressor(compression, (error) => options.log.debug("Cannot compress a piece ahead of requests", { error })),
    close: () => rdma?.close(),
  };
}
