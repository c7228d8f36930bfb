/** dfdaemon's Prometheus metrics. */
import { Registry } from "../common/metrics.ts";

/** Creates dfdaemon's metrics. */
export function createPeerMetrics() {
  const registry = new Registry();
  return {
    registry,
    downloadTrafficBytes: registry.counter(
      "libellula_download_traffic_bytes_total",
      "Bytes downloaded, by traffic type (back_to_source, remote_peer, local_peer)",
    ),
    downloadPieces: registry.counter("libellula_download_pieces_total", "Pieces downloaded, by traffic type"),
    pieceFailures: registry.counter("libellula_download_piece_failures_total", "Piece downloads that failed, by reason"),
    uploadTrafficBytes: registry.counter("libellula_upload_traffic_bytes_total", "Bytes served to other peers"),
    uploadPieces: registry.counter("libellula_upload_pieces_total", "Pieces served to other peers"),
    schedulerResponses: registry.counter(
      "libellula_scheduler_responses_total",
      "Scheduling decisions received, by type (normal, back_to_source, empty, metadata_only)",
    ),
    downloadTasks: registry.counter("libellula_download_tasks_total", "Download requests, by result"),
    activeTasks: registry.gauge("libellula_active_tasks", "Tasks downloading now"),
    storedTasks: registry.gauge("libellula_stored_tasks", "Tasks held in storage"),
  };
}

/** dfdaemon's metrics. */
export type PeerMetrics = ReturnType<typeof createPeerMetrics>;

/** Traffic type labels by TrafficType number. */
export const TRAFFIC_LABEL = ["back_to_source", "remote_peer", "local_peer"] as const;
