/** The seam between piece downloads and the wire: Vortex TCP today, other transports (RDMA, compression) later. */
import { downloadPiece, type DownloadPieceOptions, type DownloadPieceResult } from "./vortex/client.ts";

/** Moves one piece from a parent to the caller's `write`. */
export interface PieceTransport {
  /** A short name for logs and metrics, such as `tcp`. */
  readonly name: string;
  download(options: DownloadPieceOptions): Promise<DownloadPieceResult>;
}

/** Defaults applied to every download of a transport, overridable per call. */
export type PieceTransportDefaults = Pick<DownloadPieceOptions, "connectTimeoutMs" | "timeoutMs">;

/** The default transport: Vortex over TCP, one connection per piece. */
export function createTcpPieceTransport(defaults: PieceTransportDefaults = {}): PieceTransport {
  return {
    name: "tcp",
    download: (options) =>
      downloadPiece({
        ...options,
        connectTimeoutMs: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
        timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
      }),
  };
}
