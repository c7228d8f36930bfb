/** A task: one piece of content (by task ID), its peers' DAG and Dragonfly's task state machine. */
import { SizeScope, TaskType, type Piece } from "../../gen/common/v2/common_pb.ts";
import { Dag } from "./dag.ts";
import { StateMachine, type Transition } from "./fsm.ts";
import { PeerState, type Peer } from "./peer.ts";

/** Task states, named as Dragonfly reports them in `common.v2.Task.state`. */
export const TaskState = {
  Pending: "Pending",
  Running: "Running",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Leave: "Leave",
} as const;
/** A task state. */
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Task events, with Dragonfly's names. */
export const TaskEvent = {
  Download: "Download",
  DownloadSucceeded: "DownloadSucceeded",
  DownloadFailed: "DownloadFailed",
  Leave: "Leave",
} as const;
/** A task event. */
export type TaskEvent = (typeof TaskEvent)[keyof typeof TaskEvent];

const T = TaskState;

/** The task state machine's table. */
export const TASK_TRANSITIONS: readonly Transition<TaskState, TaskEvent>[] = [
  { event: TaskEvent.Download, from: [T.Pending, T.Succeeded, T.Failed, T.Leave], to: T.Running },
  { event: TaskEvent.DownloadSucceeded, from: [T.Running, T.Failed, T.Leave], to: T.Succeeded },
  { event: TaskEvent.DownloadFailed, from: [T.Running], to: T.Failed },
  { event: TaskEvent.Leave, from: [T.Pending, T.Running, T.Succeeded, T.Failed], to: T.Leave },
];

/** Largest content, bytes, whose size scope is TINY. */
export const TINY_FILE_SIZE = 128;
/** Default cap on peers that went back to source per task (`scheduler.backToSourceCount`). */
export const DEFAULT_BACK_TO_SOURCE_LIMIT = 200;
/** Peers per task above which GC evicts finished peers without edges. */
export const PEER_COUNT_LIMIT_FOR_TASK = 300;

/** What a parent → child edge added to the parent host's counters, to be subtracted exactly. */
interface EdgeLoad {
  txBandwidth: number;
  pieces: number;
  contentLength: number;
}

/** The fields a task takes from a Download. */
export interface TaskOptions {
  type?: TaskType;
  url?: string;
  digest?: string;
  tag?: string;
  application?: string;
  filteredQueryParams?: string[];
  requestHeader?: Record<string, string>;
  backToSourceLimit?: number;
}

/** Seed-peer trigger bookkeeping of a task. */
export interface SeedState {
  /** Seed hosts asked to download this task, by host ID, with the time asked. */
  readonly triggered: Map<string, number>;
  /** When a seed's download of this task last failed (ms since epoch). */
  failedAt: number | undefined;
}

/** A task known to this scheduler. */
export class Task {
  readonly fsm: StateMachine<TaskState, TaskEvent>;
  type: TaskType;
  url: string;
  digest: string | undefined;
  tag: string | undefined;
  application: string | undefined;
  filteredQueryParams: string[];
  requestHeader: Record<string, string>;
  /** Content length, −1 when unknown. */
  contentLength = -1;
  pieceLength = 0;
  totalPieceCount = 0;
  /** Pieces reported by back-to-source peers. */
  readonly pieces = new Map<number, Piece>();
  readonly dag = new Dag<Peer>();
  /** Peers that went back to source. */
  readonly backToSourcePeers = new Set<string>();
  backToSourceLimit: number;
  /** Back-to-source failures since the last success. */
  peerFailedCount = 0;
  readonly seed: SeedState = { triggered: new Map(), failedAt: undefined };
  readonly createdAt: number;
  updatedAt: number;
  private readonly edgeLoads = new Map<string, EdgeLoad>();
  private waiters: (() => void)[] = [];

  constructor(readonly id: string, options: TaskOptions = {}, now = Date.now()) {
    this.fsm = new StateMachine("task", TaskState.Pending, TASK_TRANSITIONS);
    this.type = options.type ?? TaskType.STANDARD;
    this.url = options.url ?? "";
    this.digest = options.digest;
    this.tag = options.tag;
    this.application = options.application;
    this.filteredQueryParams = options.filteredQueryParams ?? [];
    this.requestHeader = options.requestHeader ?? {};
    this.backToSourceLimit = options.backToSourceLimit ?? DEFAULT_BACK_TO_SOURCE_LIMIT;
    this.createdAt = now;
    this.updatedAt = now;
  }

  get state(): TaskState {
    return this.fsm.state;
  }

  /** Applies a task event. */
  event(event: TaskEvent, now = Date.now()): void {
    this.fsm.transition(event);
    this.updatedAt = now;
    this.notify();
  }

  /** Sets size details from a Download's `actual_*` fields when known. */
  setSize(contentLength: number | undefined, pieceLength: number | undefined, pieceCount: number | undefined): void {
    if (contentLength !== undefined) this.contentLength = contentLength;
    if (pieceLength !== undefined && pieceLength > 0) this.pieceLength = pieceLength;
    if (pieceCount !== undefined) this.totalPieceCount = pieceCount;
    else if (this.contentLength >= 0 && this.pieceLength > 0) this.totalPieceCount = Math.ceil(this.contentLength / this.pieceLength);
  }

  /** Dragonfly's size scope: UNKNOW, EMPTY, TINY (≤128 B), SMALL (one piece) or NORMAL. */
  sizeScope(): SizeScope {
    if (this.contentLength < 0) return SizeScope.UNKNOW;
    if (this.contentLength === 0) return SizeScope.EMPTY;
    if (this.contentLength <= TINY_FILE_SIZE) return SizeScope.TINY;
    if (this.totalPieceCount === 1) return SizeScope.SMALL;
    return SizeScope.NORMAL;
  }

  /** Whether another peer may go back to source. */
  canBackToSource(): boolean {
    return this.backToSourcePeers.size <= this.backToSourceLimit && this.type !== TaskType.PERSISTENT_CACHE;
  }

  /** Whether a peer on another host holds or is fetching the content (Running, BackToSource or Succeeded). */
  hasAvailablePeer(blocklist: ReadonlySet<string> = new Set(), hostId?: string): boolean {
    for (const vertex of this.dag.getVertices()) {
      const peer = vertex.value;
      if (blocklist.has(peer.id) || (hostId !== undefined && peer.host.id === hostId)) continue;
      if (peer.fsm.is(PeerState.Running, PeerState.BackToSource, PeerState.Succeeded)) return true;
    }
    return false;
  }

  /** Number of peers. */
  get peerCount(): number {
    return this.dag.size;
  }

  /** All peers. */
  peers(): Peer[] {
    return [...this.dag.getVertices()].map((v) => v.value);
  }

  /** The peer with this ID, if it belongs to the task. */
  loadPeer(id: string): Peer | undefined {
    return this.dag.getVertex(id)?.value;
  }

  /** Adds a peer's vertex. */
  storePeer(peer: Peer): void {
    this.dag.addVertex(peer.id, peer);
    this.notify();
  }

  /** Removes a peer with all its edges; returns the children it had. */
  deletePeer(id: string): Peer[] {
    const children = this.deletePeerOutEdges(id);
    this.deletePeerInEdges(id);
    this.dag.deleteVertex(id);
    this.notify();
    return children;
  }

  /** Adds edges parent → child, raising each parent host's counters; returns the parents added. */
  addPeerEdges(parents: readonly Peer[], child: Peer): Peer[] {
    const allowed = new Set(this.dag.addEdges(parents.map((p) => p.id), child.id));
    const added = parents.filter((p) => allowed.has(p.id));
    for (const parent of added) {
      const load: EdgeLoad = {
        txBandwidth: child.peakBandwidthUsage,
        pieces: child.concurrentPieceCount,
        contentLength: Math.max(this.contentLength, 0),
      };
      this.edgeLoads.set(`${parent.id}\n${child.id}`, load);
      const host = parent.host;
      host.uploadCount++;
      host.concurrentUploadCount++;
      host.txBandwidth += load.txBandwidth;
      host.concurrentUploadPieceCount += load.pieces;
      host.uploadContentLength += load.contentLength;
    }
    return added;
  }

  private releaseEdge(parentId: string, childId: string): void {
    const key = `${parentId}\n${childId}`;
    const load = this.edgeLoads.get(key);
    const parent = this.dag.getVertex(parentId)?.value;
    this.dag.deleteEdge(parentId, childId);
    if (!load || !parent) return;
    this.edgeLoads.delete(key);
    const host = parent.host;
    host.concurrentUploadCount = Math.max(0, host.concurrentUploadCount - 1);
    host.txBandwidth = Math.max(0, host.txBandwidth - load.txBandwidth);
    host.concurrentUploadPieceCount = Math.max(0, host.concurrentUploadPieceCount - load.pieces);
    host.uploadContentLength = Math.max(0, host.uploadContentLength - load.contentLength);
  }

  /** Removes every edge into a peer, releasing its parents' host counters. */
  deletePeerInEdges(id: string): void {
    const vertex = this.dag.getVertex(id);
    if (!vertex) return;
    for (const parentId of [...vertex.parents]) this.releaseEdge(parentId, id);
  }

  /** Removes every edge out of a peer; returns the children it had. */
  deletePeerOutEdges(id: string): Peer[] {
    const vertex = this.dag.getVertex(id);
    if (!vertex) return [];
    const children: Peer[] = [];
    for (const childId of [...vertex.children]) {
      const child = this.dag.getVertex(childId)?.value;
      if (child) children.push(child);
      this.releaseEdge(id, childId);
    }
    return children;
  }

  /** Removes one edge. */
  deletePeerEdge(parentId: string, childId: string): void {
    this.releaseEdge(parentId, childId);
  }

  /** Resolves at the next change of the task's peers or states. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes everyone waiting in changed(). */
  notify(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
