/**
 * Keeps each persistent cache task at its replica count and removes it from every host when it expires or is
 * deleted. Missing copies are made by promoting exported copies first (no bytes move), then by asking hosts
 * that hold nothing, share data and have room to download a persistent copy.
 */
import { errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { Host } from "../resource/host.ts";
import type { HostManager } from "../resource/host-manager.ts";
import type { PersistentCacheDfdaemonClient } from "./dfdaemon-client.ts";
import { PersistentCachePeer } from "./peer.ts";
import type { PersistentCacheResource } from "./resource.ts";
import { PersistentCacheTaskState, type PersistentCacheTask } from "./task.ts";

/** Time before an under-replicated task is tried again. */
export const DEFAULT_REPLICATION_RETRY_INTERVAL_MS = 5_000;
/** Time a host whose replication failed is left out. */
export const DEFAULT_FAILED_HOST_TIMEOUT_MS = 60_000;
/** Time allowed for each host to delete its copy. */
const DELETE_TIMEOUT_MS = 10_000;

/** What the replicator needs. */
export interface ReplicatorOptions {
  hosts: HostManager;
  resource: PersistentCacheResource;
  client: PersistentCacheDfdaemonClient;
  log: Logger;
  retryIntervalMs?: number;
  failedHostTimeoutMs?: number;
}

/** Free bytes a host reported on its storage disk; 0 when it did not report them. */
export function hostDiskFree(host: Host): number {
  return Number(host.info.disk?.free ?? 0n);
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Replication, expiry and deletion of persistent cache tasks. */
export class Replicator {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly retryIntervalMs: number;
  private readonly failedHostTimeoutMs: number;

  constructor(private readonly options: ReplicatorOptions) {
    this.retryIntervalMs = options.retryIntervalMs ?? DEFAULT_REPLICATION_RETRY_INTERVAL_MS;
    this.failedHostTimeoutMs = options.failedHostTimeoutMs ?? DEFAULT_FAILED_HOST_TIMEOUT_MS;
  }

  /** Replications in progress, for a clean stop. */
  pending(): Promise<void>[] {
    return [...this.running.values()];
  }

  /** Brings a succeeded task up to its replica count; resolves when this run ends. Calls during a run queue one more. */
  replicate(task: PersistentCacheTask): Promise<void> {
    const current = this.running.get(task.id);
    if (current) {
      this.again.add(task.id);
      return current;
    }
    const run = (async () => {
      try {
        do {
          this.again.delete(task.id);
          await this.round(task);
        } while (this.again.has(task.id) && this.live(task));
      } catch (error) {
        this.options.log.warn("Persistent cache replication failed", { taskId: task.id, error: errorMessage(error) });
      } finally {
        this.running.delete(task.id);
        this.again.delete(task.id);
      }
    })();
    this.running.set(task.id, run);
    return run;
  }

  private live(task: PersistentCacheTask): boolean {
    return !task.controller.signal.aborted && this.options.resource.loadTask(task.id) === task;
  }

  private async round(task: PersistentCacheTask): Promise<void> {
    const { client, hosts, log } = this.options;
    if (!this.live(task) || task.state !== PersistentCacheTaskState.Succeeded) return;
    task.lastReplicationAt = Date.now();
    let need = task.missingReplicaCount();
    if (need === 0) return;
    const signal = task.controller.signal;
    for (const peer of task.succeededPeers()) {
      if (need === 0) break;
      if (peer.persistent || hosts.load(peer.host.id) !== peer.host || peer.host.disableShared) continue;
      try {
        await client.updatePersistentCacheTask(peer.host, task.id, true, signal);
        peer.persistent = true;
        need--;
        log.info("Promoted a persistent cache copy to a replica", { taskId: task.id, hostId: peer.host.id });
      } catch (error) {
        if (signal.aborted) return;
        log.warn("Cannot promote a persistent cache copy", { taskId: task.id, hostId: peer.host.id, error: errorMessage(error) });
      }
    }
    if (need === 0 || !this.live(task)) return;
    const targets = this.chooseHosts(task, need);
    if (targets.length < need) {
      log.warn("Not enough hosts for the persistent cache task's replicas", {
        taskId: task.id,
        wanted: need,
        available: targets.length,
      });
    }
    await Promise.all(targets.map((host) => this.replicateTo(task, host)));
  }

  /** Hosts that may take a new copy: holding nothing of the task, sharing data, with room, not failing lately. */
  chooseHosts(task: PersistentCacheTask, count: number, now = Date.now()): Host[] {
    const taken = new Set<string>([...task.replicating, ...task.awaitedCopies.keys()]);
    for (const peer of task.peers.values()) if (peer.state !== "Failed") taken.add(peer.host.id);
    for (const [id, at] of task.failedHosts) {
      if (now - at < this.failedHostTimeoutMs) taken.add(id);
      else task.failedHosts.delete(id);
    }
    const eligible = this.options.hosts
      .all()
      .filter((h) => !taken.has(h.id) && !h.disableShared && hostDiskFree(h) >= task.contentLength);
    return shuffle(eligible).slice(0, count);
  }

  private async replicateTo(task: PersistentCacheTask, host: Host): Promise<void> {
    const { client, log } = this.options;
    const signal = task.controller.signal;
    task.replicating.add(host.id);
    const started = Date.now();
    try {
      await client.downloadPersistentCacheTask(
        host,
        { taskId: task.id, tag: task.tag, application: task.application },
        signal,
      );
      log.info("Replicated persistent cache task", { taskId: task.id, hostId: host.id, durationMs: Date.now() - started });
    } catch (error) {
      if (signal.aborted) return;
      task.failedHosts.set(host.id, Date.now());
      log.warn("Cannot replicate persistent cache task", { taskId: task.id, hostId: host.id, error: errorMessage(error) });
    } finally {
      task.replicating.delete(host.id);
    }
  }

  /** Forgets a task and asks every host that holds (or is getting) a copy to delete it; returns the hosts that failed. */
  async deleteEverywhere(task: PersistentCacheTask, reason: string): Promise<string[]> {
    const { client, hosts, log, resource } = this.options;
    const holders = new Map<string, Host>();
    for (const peer of task.peers.values()) holders.set(peer.host.id, peer.host);
    for (const id of task.replicating) {
      const host = hosts.load(id);
      if (host) holders.set(id, host);
    }
    resource.deleteTask(task.id);
    const failed: string[] = [];
    await Promise.all(
      [...holders.values()].map(async (host) => {
        try {
          await client.deletePersistentCacheTask(host, task.id, AbortSignal.timeout(DELETE_TIMEOUT_MS));
        } catch (error) {
          failed.push(host.id);
          log.warn("Cannot delete a persistent cache copy", { taskId: task.id, hostId: host.id, error: errorMessage(error) });
        }
      }),
    );
    log.info("Deleted persistent cache task", { taskId: task.id, reason, hosts: holders.size, failed: failed.length });
    return failed;
  }

  /**
   * Attaches copies kept across a restart whose hosts announced themselves again, and drops those whose hosts
   * did not return in time; returns whether a persistent one was dropped.
   */
  private attachAwaited(task: PersistentCacheTask, now: number): boolean {
    if (task.awaitedCopies.size === 0) return false;
    const { hosts, resource } = this.options;
    let dropped = false;
    for (const [hostId, copy] of [...task.awaitedCopies]) {
      const host = hosts.load(hostId);
      if (host) {
        const peer = new PersistentCachePeer(copy.peerId, copy.persistent, task, host, now);
        peer.event("Upload", now);
        peer.event("Succeeded", now);
        resource.storePeer(peer);
        task.awaitedCopies.delete(hostId);
      } else if (now >= task.awaitedUntil) {
        dropped ||= copy.persistent;
        task.awaitedCopies.delete(hostId);
        this.options.log.warn("A persistent cache copy's host did not return after the restart", { taskId: task.id, hostId });
      }
    }
    return dropped;
  }

  /**
   * One pass over every task: expired tasks are deleted everywhere, peers on hosts that left are dropped, uploads
   * whose uploader left fail, and under-replicated tasks are replicated again.
   */
  sweep(now = Date.now()): Promise<unknown>[] {
    const { hosts, resource } = this.options;
    const work: Promise<unknown>[] = [];
    for (const task of resource.allTasks()) {
      if (now >= task.expiresAt) {
        work.push(this.deleteEverywhere(task, "ttl"));
        continue;
      }
      let lostReplica = this.attachAwaited(task, now);
      for (const peer of [...task.peers.values()]) {
        if (hosts.load(peer.host.id) === peer.host) continue;
        lostReplica ||= peer.persistent;
        resource.deletePeer(peer);
      }
      if (task.peers.size === 0 && task.replicating.size === 0 && task.awaitedCopies.size === 0) {
        resource.deleteTask(task.id);
        continue;
      }
      if (task.state === PersistentCacheTaskState.Uploading && ![...task.peers.values()].some((p) => p.state === "Uploading")) {
        task.event("Failed", now);
      }
      if (
        task.state === PersistentCacheTaskState.Succeeded &&
        task.missingReplicaCount() > 0 &&
        !this.running.has(task.id) &&
        (lostReplica || now - task.lastReplicationAt >= this.retryIntervalMs)
      ) {
        work.push(this.replicate(task));
      }
    }
    return work;
  }
}
