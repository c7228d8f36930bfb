/** A peer: one host's download of one task, with Dragonfly's peer state machine. */
import type { AnnouncePeerResponse } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { Priority, type Download, type Range } from "../../gen/common/v2/common_pb.ts";
import { StateMachine, type Transition } from "./fsm.ts";
import type { Host } from "./host.ts";
import type { Task } from "./task.ts";

/** Peer states, named as Dragonfly reports them in `common.v2.Peer.state`. */
export const PeerState = {
  Pending: "Pending",
  ReceivedEmpty: "ReceivedEmpty",
  ReceivedTiny: "ReceivedTiny",
  ReceivedSmall: "ReceivedSmall",
  ReceivedNormal: "ReceivedNormal",
  Running: "Running",
  BackToSource: "BackToSource",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Leave: "Leave",
} as const;
/** A peer state. */
export type PeerState = (typeof PeerState)[keyof typeof PeerState];

/** Peer events, with Dragonfly's names. */
export const PeerEvent = {
  RegisterEmpty: "RegisterEmpty",
  RegisterTiny: "RegisterTiny",
  RegisterSmall: "RegisterSmall",
  RegisterNormal: "RegisterNormal",
  Download: "Download",
  DownloadBackToSource: "DownloadBackToSource",
  DownloadSucceeded: "DownloadSucceeded",
  DownloadFailed: "DownloadFailed",
  Leave: "Leave",
} as const;
/** A peer event. */
export type PeerEvent = (typeof PeerEvent)[keyof typeof PeerEvent];

const S = PeerState;
const RECEIVED = [S.ReceivedEmpty, S.ReceivedTiny, S.ReceivedSmall, S.ReceivedNormal] as const;

/** The peer state machine's table. */
export const PEER_TRANSITIONS: readonly Transition<PeerState, PeerEvent>[] = [
  { event: PeerEvent.RegisterEmpty, from: [S.Pending], to: S.ReceivedEmpty },
  { event: PeerEvent.RegisterTiny, from: [S.Pending], to: S.ReceivedTiny },
  { event: PeerEvent.RegisterSmall, from: [S.Pending], to: S.ReceivedSmall },
  { event: PeerEvent.RegisterNormal, from: [S.Pending], to: S.ReceivedNormal },
  { event: PeerEvent.Download, from: [...RECEIVED], to: S.Running },
  { event: PeerEvent.DownloadBackToSource, from: [...RECEIVED, S.Running], to: S.BackToSource },
  { event: PeerEvent.DownloadSucceeded, from: [...RECEIVED, S.Running, S.BackToSource], to: S.Succeeded },
  { event: PeerEvent.DownloadFailed, from: [S.Pending, ...RECEIVED, S.Running, S.BackToSource, S.Succeeded], to: S.Failed },
  {
    event: PeerEvent.Leave,
    from: [S.Pending, ...RECEIVED, S.Running, S.BackToSource, S.Succeeded, S.Failed],
    to: S.Leave,
  },
];

/** Default concurrent piece count of a peer. */
export const DEFAULT_CONCURRENT_PIECE_COUNT = 8;
/** Size of the rolling windows of piece costs (Dragonfly v2.5.1). */
export const PIECE_COSTS_WINDOW = 2000;

/** Where responses to a peer's AnnouncePeer stream go. */
export interface PeerStream {
  send(response: AnnouncePeerResponse): void;
  /** Ends the stream cleanly after queued responses. */
  close(): void;
  /** Ends the stream with an error. */
  fail(error: unknown): void;
  readonly closed: boolean;
}

/** A bounded window of numbers, oldest dropped first. */
export class RollingWindow {
  private readonly values: number[] = [];
  constructor(readonly capacity: number) {}
  push(value: number): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
  }
  get length(): number {
    return this.values.length;
  }
  get full(): boolean {
    return this.values.length >= this.capacity;
  }
  toArray(): readonly number[] {
    return this.values;
  }
}

/** Options of a new peer. */
export interface PeerOptions {
  range?: Range;
  priority?: Priority;
  concurrentPieceCount?: number;
  download?: Download;
}

/** A peer of a task on a host. */
export class Peer {
  readonly fsm: StateMachine<PeerState, PeerEvent>;
  readonly range: Range | undefined;
  priority: Priority;
  readonly concurrentPieceCount: number;
  /** The Download this peer registered with. */
  download: Download | undefined;
  /** Pieces this peer holds. */
  readonly finishedPieces = new Set<number>();
  /** Costs of this peer's own piece downloads, ns. */
  readonly pieceCosts = new RollingWindow(PIECE_COSTS_WINDOW);
  /** Costs per byte of the pieces this peer served to children, ns/byte: its upload quality. */
  readonly uploadCosts = new RollingWindow(PIECE_COSTS_WINDOW);
  /** Sum of own piece costs, ns. */
  costNs = 0;
  /** Parents never to offer this peer again. */
  readonly blockParents = new Set<string>();
  /** The scheduler must send this peer back to source. */
  needBackToSource = false;
  /** The client forbids back-to-source for this download. */
  disableBackToSource = false;
  /** The open AnnouncePeer stream, if any. */
  stream: PeerStream | undefined;
  /** Bumped by each schedule so that an older retry loop stops. */
  scheduleGeneration = 0;
  /** Times this peer has been scheduled. */
  scheduleCount = 0;
  readonly createdAt: number;
  updatedAt: number;
  pieceUpdatedAt: number;

  constructor(readonly id: string, readonly task: Task, readonly host: Host, options: PeerOptions = {}, now = Date.now()) {
    this.fsm = new StateMachine("peer", PeerState.Pending, PEER_TRANSITIONS);
    this.range = options.range;
    this.priority = options.priority ?? Priority.LEVEL0;
    this.concurrentPieceCount = options.concurrentPieceCount || DEFAULT_CONCURRENT_PIECE_COUNT;
    this.download = options.download;
    this.createdAt = now;
    this.updatedAt = now;
    this.pieceUpdatedAt = now;
  }

  get state(): PeerState {
    return this.fsm.state;
  }

  /** Peak bandwidth this peer asks of its parents, bits/s (Dragonfly's PeakBandwidthUsage). */
  get peakBandwidthUsage(): number {
    return Math.max(this.task.pieceLength, 0) * this.concurrentPieceCount * 8;
  }

  /** Whether the peer downloads the whole task. */
  get isFullRange(): boolean {
    return this.range === undefined;
  }

  /**
   * Applies an event with Dragonfly's side effects on the task: leaving BackToSource or finishing drops
   * the peer's in-edges, and the back-to-source set and failed count follow the state.
   */
  event(event: PeerEvent, now = Date.now()): void {
    const from = this.fsm.transition(event);
    this.updatedAt = now;
    const task = this.task;
    switch (event) {
      case PeerEvent.DownloadBackToSource:
        task.backToSourcePeers.add(this.id);
        task.deletePeerInEdges(this.id);
        break;
      case PeerEvent.DownloadSucceeded:
        task.deletePeerInEdges(this.id);
        task.peerFailedCount = 0;
        break;
      case PeerEvent.DownloadFailed:
        if (from === PeerState.BackToSource) task.peerFailedCount++;
        task.deletePeerInEdges(this.id);
        break;
      case PeerEvent.Leave:
        task.deletePeerInEdges(this.id);
        task.backToSourcePeers.delete(this.id);
        break;
    }
    task.notify();
  }

  /** Records a finished piece of this peer's own download. */
  finishPiece(number: number, costNs: number, now = Date.now()): void {
    this.finishedPieces.add(number);
    if (costNs > 0) {
      this.pieceCosts.push(costNs);
      this.costNs += costNs;
    }
    this.pieceUpdatedAt = now;
    this.updatedAt = now;
  }

  /** The parents this peer currently downloads from. */
  parents(): Peer[] {
    const vertex = this.task.dag.getVertex(this.id);
    if (!vertex) return [];
    return [...vertex.parents].map((id) => this.task.dag.getVertex(id)?.value).filter((p): p is Peer => p !== undefined);
  }

  /** The peers currently downloading from this one. */
  children(): Peer[] {
    const vertex = this.task.dag.getVertex(this.id);
    if (!vertex) return [];
    return [...vertex.children].map((id) => this.task.dag.getVertex(id)?.value).filter((p): p is Peer => p !== undefined);
  }
}
