/** The scheduler's Prometheus metrics. */
import type { Counter, Registry } from "../common/metrics.ts";
import type { Resource } from "./resource/resource.ts";

/** Counters the scheduler updates; gauges are read from the model when scraped. */
export interface SchedulerMetrics {
  /** Scheduling outcomes by `decision` (normal, back_to_source, empty, metadata_only, failed). */
  decisions: Counter;
  /** AnnouncePeer requests by `type` (the request variant). */
  announcePeerRequests: Counter;
  /** Seed peer triggers by `result` (started, succeeded, failed). */
  seedPeerTriggers: Counter;
}

/** Registers the scheduler's metrics. */
export function createSchedulerMetrics(registry: Registry, resource: Resource): SchedulerMetrics {
  registry.gauge("libellula_scheduler_tasks", "Tasks known to the scheduler", () => resource.tasks.size);
  registry.gauge("libellula_scheduler_peers", "Peers known to the scheduler", () => resource.peers.size);
  registry.gauge("libellula_scheduler_hosts", "Hosts known to the scheduler", () => resource.hosts.size);
  return {
    decisions: registry.counter("libellula_scheduler_decisions_total", "Scheduling decisions by outcome"),
    announcePeerRequests: registry.counter("libellula_scheduler_announce_peer_requests_total", "AnnouncePeer requests by type"),
    seedPeerTriggers: registry.counter("libellula_scheduler_seed_peer_triggers_total", "Seed peer download triggers by result"),
  };
}
