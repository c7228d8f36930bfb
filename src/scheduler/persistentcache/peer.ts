/** A persistent cache peer: one host's copy (or download) of a persistent cache task. */
import { StateMachine, type Transition } from "../resource/fsm.ts";
import type { Host } from "../resource/host.ts";
import type { PersistentCacheTask } from "./task.ts";

/** Peer states, with Dragonfly's names for persistent cache peers. */
export const PersistentCachePeerState = {
  Pending: "Pending",
  Uploading: "Uploading",
  ReceivedEmpty: "ReceivedEmpty",
  ReceivedNormal: "ReceivedNormal",
  Running: "Running",
  Succeeded: "Succeeded",
  Failed: "Failed",
} as const;
/** A persistent cache peer state. */
export type PersistentCachePeerState = (typeof PersistentCachePeerState)[keyof typeof PersistentCachePeerState];

/** Peer events. */
export const PersistentCachePeerEvent = {
  Upload: "Upload",
  RegisterEmpty: "RegisterEmpty",
  RegisterNormal: "RegisterNormal",
  Download: "Download",
  Succeeded: "Succeeded",
  Failed: "Failed",
} as const;
/** A persistent cache peer event. */
export type PersistentCachePeerEvent = (typeof PersistentCachePeerEvent)[keyof typeof PersistentCachePeerEvent];

const S = PersistentCachePeerState;
const E = PersistentCachePeerEvent;

/** The persistent cache peer state machine's table. */
export const PERSISTENT_CACHE_PEER_TRANSITIONS: readonly Transition<PersistentCachePeerState, PersistentCachePeerEvent>[] = [
  { event: E.Upload, from: [S.Pending], to: S.Uploading },
  { event: E.RegisterEmpty, from: [S.Pending], to: S.ReceivedEmpty },
  { event: E.RegisterNormal, from: [S.Pending], to: S.ReceivedNormal },
  { event: E.Download, from: [S.ReceivedEmpty, S.ReceivedNormal], to: S.Running },
  { event: E.Succeeded, from: [S.Uploading, S.ReceivedEmpty, S.ReceivedNormal, S.Running], to: S.Succeeded },
  { event: E.Failed, from: [S.Pending, S.Uploading, S.ReceivedEmpty, S.ReceivedNormal, S.Running, S.Succeeded], to: S.Failed },
];

/** A persistent cache peer known to this scheduler. */
export class PersistentCachePeer {
  readonly fsm = new StateMachine<PersistentCachePeerState, PersistentCachePeerEvent>(
    "persistent cache peer",
    S.Pending,
    PERSISTENT_CACHE_PEER_TRANSITIONS,
  );
  /** Parents this peer reported as failing; not offered to it again. */
  readonly blockParents = new Set<string>();
  /** Time spent downloading, ns (sum of reported piece costs). */
  costNs = 0;
  readonly createdAt: number;
  updatedAt: number;

  constructor(
    readonly id: string,
    /** Whether the copy is persistent (counted as a replica) rather than a cached export. */
    public persistent: boolean,
    readonly task: PersistentCacheTask,
    readonly host: Host,
    now = Date.now(),
  ) {
    this.createdAt = now;
    this.updatedAt = now;
  }

  get state(): PersistentCachePeerState {
    return this.fsm.state;
  }

  /** Applies an event; throws InvalidStateTransition when the table does not allow it. */
  event(event: PersistentCachePeerEvent, now = Date.now()): void {
    this.fsm.transition(event);
    this.updatedAt = now;
  }
}
