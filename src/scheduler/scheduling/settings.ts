/** Scheduling settings: from the config file at start-up, then refreshed from the manager's cluster config. */
import type { Application } from "../../gen/manager/v2/manager_pb.ts";
import type { SchedulerConfig } from "../config.ts";
import { DEFAULT_NORMAL_LOAD_LIMIT, DEFAULT_SEED_LOAD_LIMIT } from "../resource/host.ts";

/** The values the scheduling loop reads on every decision; mutable so dynconfig can update them. */
export interface SchedulingSettings {
  algorithm: "default" | "dragonfly";
  candidateParentLimit: number;
  filterParentLimit: number;
  retryLimit: number;
  retryBackToSourceLimit: number;
  retryIntervalMs: number;
  backToSourceCount: number;
  /** Normal children per task a seed serves while peers can relay instead (0 = no limit). */
  seedChildLimit: number;
  /** Normal children per task a normal peer serves while other parents can (0 = no limit). */
  peerChildLimit: number;
  /** Concurrent upload limit of normal hosts (cluster `client_config.load_limit`). */
  normalLoadLimit: number;
  /** Concurrent upload limit of seed hosts (seed cluster `load_limit`). */
  seedLoadLimit: number;
  /** Applications with priorities, from the manager. */
  applications: Application[];
}

/** Settings from a validated config. */
export function settingsFromConfig(config: SchedulerConfig): SchedulingSettings {
  const s = config.scheduler;
  return {
    algorithm: s.algorithm,
    candidateParentLimit: s.candidateParentLimit,
    filterParentLimit: s.filterParentLimit,
    retryLimit: s.retryLimit,
    retryBackToSourceLimit: s.retryBackToSourceLimit,
    retryIntervalMs: s.retryInterval,
    backToSourceCount: s.backToSourceCount,
    seedChildLimit: config.seedPeer.childLimit,
    peerChildLimit: s.peerChildLimit,
    normalLoadLimit: DEFAULT_NORMAL_LOAD_LIMIT,
    seedLoadLimit: DEFAULT_SEED_LOAD_LIMIT,
    applications: [],
  };
}
