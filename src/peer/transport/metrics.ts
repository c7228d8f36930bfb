/** Counters of the piece transports: compression on the wire and RDMA use, registered on the daemon's registry. */
import { Registry } from "../../common/metrics.ts";

/** Creates the transport counters on `registry` (a private one when omitted, as in tests). */
export function createTransportMetrics(registry: Registry = new Registry()) {
  return {
    registry,
    compressionRawBytes: registry.counter(
      "libellula_compression_raw_bytes_total",
      "Piece bytes before compression, of pieces sent or received compressed, by direction (upload, download)",
    ),
    compressionWireBytes: registry.counter(
      "libellula_compression_wire_bytes_total",
      "Bytes those pieces took on the wire after compression, block headers included, by direction",
    ),
    compressionPieces: registry.counter(
      "libellula_compression_pieces_total",
      "Pieces by direction and decision (compressed, cached, skipped_ratio, skipped_rate, not_negotiated)",
    ),
    compressionFailures: registry.counter(
      "libellula_compression_failures_total",
      "Compressed pieces refused on receipt and fetched again uncompressed, by reason (bomb, corrupt, digest)",
    ),
    rdmaPieces: registry.counter("libellula_rdma_pieces_total", "Pieces moved by RDMA READ, by direction"),
    rdmaFallbacks: registry.counter("libellula_rdma_fallbacks_total", "Piece downloads that fell back from RDMA to TCP, by reason"),
    streamedPieces: registry.counter(
      "libellula_streamed_pieces_total",
      "Pieces relayed while still arriving at the parent (Vortex StreamedPieceContent), by direction",
    ),
  };
}

/** The transport counters. */
export type TransportMetrics = ReturnType<typeof createTransportMetrics>;
