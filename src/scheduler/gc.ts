/** Garbage collection of peers, tasks and hosts (Dragonfly's §10 rules), each on its own interval. */
import type { Logger } from "../common/log.ts";
import type { Service } from "../common/lifecycle.ts";
import { PeerEvent, PeerState, type Peer } from "./resource/peer.ts";
import type { Resource } from "./resource/resource.ts";
import { PEER_COUNT_LIMIT_FOR_TASK, TaskEvent } from "./resource/task.ts";

/** Intervals and TTLs, ms. */
export interface GcOptions {
  resource: Resource;
  log: Logger;
  /** Called with the children a removed peer had, so they can be rescheduled. */
  releaseChildren: (parentId: string, children: Peer[]) => void;
  peerGCIntervalMs: number;
  peerTTLMs: number;
  taskGCIntervalMs: number;
  hostGCIntervalMs: number;
  hostTTLMs: number;
  pieceDownloadTimeoutMs: number;
}

/** Periodic clean-up of the in-memory model. */
export class ResourceGc implements Service {
  readonly name = "scheduler-gc";
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(private readonly options: GcOptions) {}

  async start(): Promise<void> {
    const { peerGCIntervalMs, taskGCIntervalMs, hostGCIntervalMs } = this.options;
    this.timers.push(setInterval(() => this.runPeerGc(), peerGCIntervalMs));
    this.timers.push(setInterval(() => this.runTaskGc(), taskGCIntervalMs));
    this.timers.push(setInterval(() => this.runHostGc(), hostGCIntervalMs));
    for (const timer of this.timers) timer.unref?.();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  private removePeer(peer: Peer): void {
    const children = this.options.resource.peers.delete(peer.id);
    this.options.releaseChildren(peer.id, children);
  }

  /** Why a peer should leave now, or undefined. */
  private leaveReason(peer: Peer, now: number): string | undefined {
    const { peerTTLMs, hostTTLMs, pieceDownloadTimeoutMs } = this.options;
    if (peer.state === PeerState.Failed) return "failed";
    if (peer.host.disableShared && peer.state === PeerState.Succeeded) return "host does not share";
    if (peer.fsm.is(PeerState.Running, PeerState.BackToSource) && now - peer.pieceUpdatedAt > pieceDownloadTimeoutMs) {
      return "no piece within pieceDownloadTimeout";
    }
    if (now - peer.updatedAt > peerTTLMs) return "idle beyond peerTTL";
    if (now - peer.host.updatedAt > hostTTLMs) return "host not announced within hostTTL";
    if (
      peer.task.peerCount > PEER_COUNT_LIMIT_FOR_TASK &&
      peer.state === PeerState.Succeeded &&
      peer.task.dag.inDegree(peer.id) === 0 &&
      peer.task.dag.outDegree(peer.id) === 0
    ) {
      return "task has too many peers";
    }
    return undefined;
  }

  /** Deletes peers that left; makes stale, failed or surplus peers leave. Returns the peers deleted. */
  runPeerGc(now = Date.now()): number {
    let deleted = 0;
    for (const peer of this.options.resource.peers.all()) {
      if (peer.state === PeerState.Leave) {
        this.removePeer(peer);
        deleted++;
        continue;
      }
      const reason = this.leaveReason(peer, now);
      if (!reason) continue;
      this.options.log.info("Peer leaves", { peerId: peer.id, reason });
      peer.event(PeerEvent.Leave);
      const children = peer.task.deletePeerOutEdges(peer.id);
      this.options.releaseChildren(peer.id, children);
      if (reason === "task has too many peers") {
        this.removePeer(peer);
        deleted++;
      }
    }
    return deleted;
  }

  /** Deletes tasks without peers. Returns the tasks deleted. */
  runTaskGc(): number {
    let deleted = 0;
    const { tasks } = this.options.resource;
    for (const task of tasks.all()) {
      if (task.peerCount > 0) continue;
      if (task.fsm.can(TaskEvent.Leave)) task.event(TaskEvent.Leave);
      tasks.delete(task.id);
      deleted++;
    }
    return deleted;
  }

  /** Deletes hosts silent for more than twice their announce interval, with their peers. Returns the hosts deleted. */
  runHostGc(now = Date.now()): number {
    let deleted = 0;
    const { hosts } = this.options.resource;
    for (const host of hosts.all()) {
      if (host.announceIntervalMs === undefined || now - host.updatedAt <= 2 * host.announceIntervalMs) continue;
      this.options.log.info("Host expired", { hostId: host.id });
      for (const peer of [...host.peers.values()]) this.removePeer(peer);
      hosts.delete(host.id);
      deleted++;
    }
    return deleted;
  }
}
