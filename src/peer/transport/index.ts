/** Piece transports: the Vortex TCP server and client, and the PieceTransport seam. */
export * from "./transport.ts";
export {
  downloadPiece,
  verifyPieceDigest,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_PIECE_TIMEOUT_MS,
  type DownloadPieceOptions,
  type DownloadPieceResult,
} from "./vortex/client.ts";
export {
  createVortexServer,
  DEFAULT_VORTEX_HOST,
  DEFAULT_VORTEX_PORT,
  type ResolvedPiece,
  type ServedPiece,
  type VortexServer,
  type VortexServerOptions,
} from "./vortex/server.ts";
export { ErrorCode, Tag, TRAFFIC_TYPE_REMOTE_PEER, type PieceKind, type PieceMetadata } from "./vortex/codec.ts";
