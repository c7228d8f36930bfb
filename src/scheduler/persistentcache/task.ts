/** A persistent cache task: a file imported into the cluster, kept on a number of hosts until its TTL ends. */
import { StateMachine, type Transition } from "../resource/fsm.ts";
import type { PersistentCachePeer } from "./peer.ts";

/** Task states, with Dragonfly's names for persistent cache tasks. */
export const PersistentCacheTaskState = {
  Pending: "Pending",
  Uploading: "Uploading",
  Succeeded: "Succeeded",
  Failed: "Failed",
} as const;
/** A persistent cache task state. */
export type PersistentCacheTaskState = (typeof PersistentCacheTaskState)[keyof typeof PersistentCacheTaskState];

/** Task events. */
export const PersistentCacheTaskEvent = {
  Upload: "Upload",
  Succeeded: "Succeeded",
  Failed: "Failed",
} as const;
/** A persistent cache task event. */
export type PersistentCacheTaskEvent = (typeof PersistentCacheTaskEvent)[keyof typeof PersistentCacheTaskEvent];

const S = PersistentCacheTaskState;
const E = PersistentCacheTaskEvent;

/** The persistent cache task state machine's table. */
export const PERSISTENT_CACHE_TASK_TRANSITIONS: readonly Transition<PersistentCacheTaskState, PersistentCacheTaskEvent>[] = [
  { event: E.Upload, from: [S.Pending, S.Failed], to: S.Uploading },
  { event: E.Succeeded, from: [S.Uploading], to: S.Succeeded },
  { event: E.Failed, from: [S.Uploading], to: S.Failed },
];

/** A copy known from before a restart whose host has not announced itself since. */
export interface AwaitedCopy {
  peerId: string;
  persistent: boolean;
}

/** What a task is created with (from UploadPersistentCacheTaskStarted). */
export interface PersistentCacheTaskInit {
  id: string;
  persistentReplicaCount: number;
  tag?: string;
  application?: string;
  pieceLength: number;
  contentLength: number;
  pieceCount: number;
  ttlMs: number;
}

/** A persistent cache task known to this scheduler. */
export class PersistentCacheTask {
  readonly fsm = new StateMachine<PersistentCacheTaskState, PersistentCacheTaskEvent>(
    "persistent cache task",
    S.Pending,
    PERSISTENT_CACHE_TASK_TRANSITIONS,
  );
  readonly id: string;
  persistentReplicaCount: number;
  tag: string | undefined;
  application: string | undefined;
  pieceLength: number;
  contentLength: number;
  pieceCount: number;
  ttlMs: number;
  readonly createdAt: number;
  updatedAt: number;
  /** Peers of this task, by peer ID. */
  readonly peers = new Map<string, PersistentCachePeer>();
  /** Hosts being asked to download a persistent copy now, by host ID. */
  readonly replicating = new Set<string>();
  /** Hosts whose replication failed recently, with the time it failed. */
  readonly failedHosts = new Map<string, number>();
  /** When replication last ran (ms since epoch). */
  lastReplicationAt = 0;
  /** Copies kept across a restart, by host ID, attached when their hosts announce themselves again. */
  readonly awaitedCopies = new Map<string, AwaitedCopy>();
  /** When awaited copies whose hosts did not return are dropped (ms since epoch). */
  awaitedUntil = 0;
  /** Aborted when the task is deleted or expires, to stop its replications. */
  readonly controller = new AbortController();

  constructor(init: PersistentCacheTaskInit, now = Date.now()) {
    this.id = init.id;
    this.persistentReplicaCount = init.persistentReplicaCount;
    this.tag = init.tag;
    this.application = init.application;
    this.pieceLength = init.pieceLength;
    this.contentLength = init.contentLength;
    this.pieceCount = init.pieceCount;
    this.ttlMs = init.ttlMs;
    this.createdAt = now;
    this.updatedAt = now;
  }

  get state(): PersistentCacheTaskState {
    return this.fsm.state;
  }

  /** Applies an event; throws InvalidStateTransition when the table does not allow it. */
  event(event: PersistentCacheTaskEvent, now = Date.now()): void {
    this.fsm.transition(event);
    this.updatedAt = now;
  }

  /** When the task expires (ms since epoch). */
  get expiresAt(): number {
    return this.createdAt + this.ttlMs;
  }

  /** The TTL left, ms (0 once expired). */
  remainingTtlMs(now = Date.now()): number {
    return Math.max(0, this.expiresAt - now);
  }

  /** Peers that hold the whole task. */
  succeededPeers(): PersistentCachePeer[] {
    return [...this.peers.values()].filter((p) => p.state === "Succeeded");
  }

  /** Succeeded peers whose copy is persistent. */
  persistentReplicas(): PersistentCachePeer[] {
    return this.succeededPeers().filter((p) => p.persistent);
  }

  /** Hosts that hold, or are getting, a persistent copy: succeeded or running persistent peers and pending replications. */
  persistentHostIds(): Set<string> {
    const ids = new Set<string>();
    for (const peer of this.peers.values()) if (peer.persistent && peer.state !== "Failed") ids.add(peer.host.id);
    for (const id of this.replicating) ids.add(id);
    for (const [id, copy] of this.awaitedCopies) if (copy.persistent) ids.add(id);
    return ids;
  }

  /** Persistent copies still missing. */
  missingReplicaCount(): number {
    return Math.max(0, this.persistentReplicaCount - this.persistentHostIds().size);
  }
}
