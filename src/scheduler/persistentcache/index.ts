/** Persistent cache tasks on the scheduler: metadata in memory (and on disk with a data directory) with TTLs, replication to other hosts, deletion everywhere. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Scheduler } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { HostManager } from "../resource/host-manager.ts";
import { createPersistentCacheDfdaemonClient, type PersistentCacheDfdaemonClient } from "./dfdaemon-client.ts";
import { Replicator } from "./replicator.ts";
import { PersistentCacheResource } from "./resource.ts";
import { PersistentCacheService } from "./service.ts";
import { PersistentCacheStore } from "./store.ts";

export { PersistentCacheResource } from "./resource.ts";
export type { PersistentCacheDfdaemonClient } from "./dfdaemon-client.ts";

/** How often TTLs, lost hosts and missing replicas are checked. */
export const DEFAULT_PERSISTENT_CACHE_SWEEP_INTERVAL_MS = 1_000;

/** Options of createPersistentCache(). */
export interface PersistentCacheOptions {
  hosts: HostManager;
  log: Logger;
  /** How the scheduler reaches dfdaemons; gRPC DfdaemonUpload by default. */
  client?: PersistentCacheDfdaemonClient;
  sweepIntervalMs?: number;
  /** Time before an under-replicated task is tried again. */
  replicationRetryIntervalMs?: number;
  /** Parents offered per scheduling decision. */
  candidateParentLimit?: () => number;
  /** Where the metadata is kept across restarts; in memory only when unset. */
  dataDir?: string;
  /** How long copies kept across a restart wait for their hosts to announce themselves. */
  restoreGraceMs?: number;
}

/** Default time copies kept across a restart wait for their hosts. */
export const DEFAULT_RESTORE_GRACE_MS = 5 * 60_000;
/** Delay between a task or copy succeeding and the metadata being written (changes in between share one write). */
const SAVE_DELAY_MS = 50;

/** The persistent cache part of a scheduler, with a lifecycle. */
export interface PersistentCache {
  readonly resource: PersistentCacheResource;
  readonly replicator: Replicator;
  readonly service: PersistentCacheService;
  /** The RPC handlers, merged into scheduler.v2.Scheduler. */
  implementation(): Partial<ServiceImpl<typeof Scheduler>>;
  /** Runs a sweep now (after a host left) and resolves when its work ends. */
  sweep(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the persistent cache part; its sweep runs between start() and stop(). */
export function createPersistentCache(options: PersistentCacheOptions): PersistentCache {
  const log = options.log.child({ component: "persistent-cache" });
  const client = options.client ?? createPersistentCacheDfdaemonClient();
  const resource = new PersistentCacheResource();
  const replicator = new Replicator({
    hosts: options.hosts,
    resource,
    client,
    log,
    retryIntervalMs: options.replicationRetryIntervalMs,
  });
  let saveSoon: ReturnType<typeof setTimeout> | undefined;
  const store = options.dataDir ? new PersistentCacheStore(options.dataDir) : undefined;
  const save = () => {
    try {
      store?.save(resource);
    } catch (error) {
      log.warn("Cannot write the persistent cache metadata", { path: store?.path, error: errorMessage(error) });
    }
  };
  const service = new PersistentCacheService({
    hosts: options.hosts,
    resource,
    replicator,
    log,
    candidateParentLimit: options.candidateParentLimit,
    // An import is written before the importer hears it succeeded, and a new copy within moments (copies that
    // finish together share one write), not at the next sweep: a crash right after must not lose them.
    onChange: (change) => {
      if (!store) return;
      if (change === "imported") return save();
      if (saveSoon) return;
      saveSoon = setTimeout(() => {
        saveSoon = undefined;
        save();
      }, SAVE_DELAY_MS);
    },
  });
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    resource,
    replicator,
    service,
    implementation: () => service.implementation(),
    async sweep() {
      await Promise.allSettled(replicator.sweep());
      save();
    },
    async start() {
      if (store) {
        const restored = store.restore(resource, options.restoreGraceMs ?? DEFAULT_RESTORE_GRACE_MS);
        if (restored.length > 0) log.info("Restored persistent cache tasks", { tasks: restored.length, path: store.path });
      }
      timer = setInterval(() => {
        void replicator.sweep();
        save();
      }, options.sweepIntervalMs ?? DEFAULT_PERSISTENT_CACHE_SWEEP_INTERVAL_MS);
      timer.unref?.();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      clearTimeout(saveSoon);
      saveSoon = undefined;
      save();
      store?.close();
      for (const task of resource.allTasks()) task.controller.abort();
      await Promise.allSettled(replicator.pending());
      client.close();
    },
  };
}
