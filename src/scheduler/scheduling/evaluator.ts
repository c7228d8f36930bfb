/** Parent scoring: Dragonfly's v2.3.4+ evaluator, and Libellula's, which adds measured throughput and load that works unreported. */
import { PeerState, type Peer } from "../resource/peer.ts";
import type { Host } from "../resource/host.ts";

/** Bits in 16 MiB: Dragonfly's unit of upload concurrency need. */
const CONCURRENCY_UNIT_BITS = 16 * 1024 * 1024 * 8;
/** Longest prefix of `|`-separated location elements compared. */
const MAX_LOCATION_ELEMENTS = 5;

/** What scoring needs besides the two peers. */
export interface EvaluationContext {
  /** Concurrent upload limit of a host. */
  loadLimit(host: Host): number;
  /** Highest measured upload throughput among the candidates, bytes/s (0 if none measured). */
  maxThroughput: number;
  /** Most finished pieces among the candidates. */
  maxFinishedPieces: number;
}

/** 1 if both IDCs are set and equal (case-insensitive), else 0. */
export function idcAffinity(a: string, b: string): number {
  return a !== "" && b !== "" && a.toLowerCase() === b.toLowerCase() ? 1 : 0;
}

/** 1 if equal, else the share of leading equal `|`-elements out of 5. */
export function locationAffinity(a: string, b: string): number {
  if (a === "" || b === "") return 0;
  if (a.toLowerCase() === b.toLowerCase()) return 1;
  const x = a.toLowerCase().split("|");
  const y = b.toLowerCase().split("|");
  let same = 0;
  for (let i = 0; i < Math.min(x.length, y.length, MAX_LOCATION_ELEMENTS); i++) {
    if (x[i] !== y[i]) break;
    same++;
  }
  return same / MAX_LOCATION_ELEMENTS;
}

/** Dragonfly's load quality from reported bandwidth: 0 when max_tx_bandwidth is unreported. */
export function bandwidthLoad(host: Host): number {
  const max = host.maxTxBandwidth;
  if (max <= 0) return 0;
  const peak = Math.max(0, 1 - host.txBandwidth / max);
  const duration = host.uploadContentLength === 0 ? 1 : Math.max(0, 1 - (host.uploadContentLength * 8) / max / 60);
  const need = max / CONCURRENCY_UNIT_BITS;
  let concurrency: number;
  if (need <= 1) concurrency = 0;
  else if (host.concurrentUploadPieceCount === 0 || need / host.concurrentUploadPieceCount >= 1) concurrency = 1;
  else concurrency = need / host.concurrentUploadPieceCount;
  return 0.5 * peak + 0.3 * duration + 0.2 * concurrency;
}

/** Dragonfly's host-type term: a seed counts 1 while ReceivedNormal or Running, a normal host 0.5. */
function dragonflyHostType(parent: Peer): number {
  if (!parent.host.isSeed) return 0.5;
  return parent.fsm.is(PeerState.ReceivedNormal, PeerState.Running) ? 1 : 0;
}

/** Dragonfly's v2.3.4+ score: 0.6 load + 0.2 idc + 0.1 location + 0.1 host type. */
export function dragonflyScore(parent: Peer, child: Peer): number {
  return (
    0.6 * bandwidthLoad(parent.host) +
    0.2 * idcAffinity(parent.host.idc, child.host.idc) +
    0.1 * locationAffinity(parent.host.location, child.host.location) +
    0.1 * dragonflyHostType(parent)
  );
}

/**
 * Load from the number of current children against a soft capacity of limit/50 (4 for a normal host,
 * 40 for a seed at default limits): 1 when idle, ½ at the soft capacity, 0 at the hard limit.
 */
export function childLoad(host: Host, limit: number): number {
  if (host.concurrentUploadCount >= limit) return 0;
  const soft = Math.max(1, limit / 50);
  return 1 / (1 + host.concurrentUploadCount / soft);
}

/** Share of the parent's pieces among what the child needs: a whole download that succeeded = 1. */
export function progress(parent: Peer, context: EvaluationContext): number {
  // A peer that downloaded only a range holds only that range's pieces, however it ended.
  if (parent.state === PeerState.Succeeded && parent.isFullRange) return 1;
  const total = parent.task.totalPieceCount;
  if (total > 0) return Math.min(1, parent.finishedPieces.size / total);
  return context.maxFinishedPieces > 0 ? parent.finishedPieces.size / context.maxFinishedPieces : 0;
}

/** Measured upload throughput relative to the best candidate; ½ while unmeasured. */
export function throughput(host: Host, context: EvaluationContext): number {
  if (host.uploadThroughput === undefined || context.maxThroughput <= 0) return 0.5;
  return Math.min(1, host.uploadThroughput / context.maxThroughput);
}

/** Share of piece uploads that succeeded, with one free success so that new hosts score 1. */
export function uploadSuccess(host: Host): number {
  return (host.uploadPieceCount + 1) / (host.uploadPieceCount + host.uploadFailedCount + 1);
}

/**
 * Libellula's score in [0,1]: (0.3 load + 0.2 throughput + 0.2 progress + 0.1 idc + 0.1 location +
 * 0.1 host type) × (½ + ½ upload success). Load averages Dragonfly's bandwidth terms with the child-count
 * term when bandwidth is reported, and is the child-count term alone when it is not.
 */
export function libellulaScore(parent: Peer, child: Peer, context: EvaluationContext): number {
  const host = parent.host;
  const children = childLoad(host, context.loadLimit(host));
  const load = host.maxTxBandwidth > 0 ? 0.5 * bandwidthLoad(host) + 0.5 * children : children;
  const hostType = host.isSeed ? (parent.fsm.is(PeerState.Running, PeerState.BackToSource) ? 1 : 0.75) : 0.5;
  const base =
    0.3 * load +
    0.2 * throughput(host, context) +
    0.2 * progress(parent, context) +
    0.1 * idcAffinity(host.idc, child.host.idc) +
    0.1 * locationAffinity(host.location, child.host.location) +
    0.1 * hostType;
  return base * (0.5 + 0.5 * uploadSuccess(host));
}

/** Sorts candidates best first (each scored once; ties in random order). */
export function evaluateParents(
  parents: readonly Peer[],
  child: Peer,
  algorithm: "default" | "dragonfly",
  loadLimit: (host: Host) => number,
): Peer[] {
  const context: EvaluationContext = {
    loadLimit,
    maxThroughput: Math.max(0, ...parents.map((p) => p.host.uploadThroughput ?? 0)),
    maxFinishedPieces: Math.max(0, ...parents.map((p) => p.finishedPieces.size)),
  };
  const scored = parents.map((parent) => ({
    parent,
    score: algorithm === "dragonfly" ? dragonflyScore(parent, child) : libellulaScore(parent, child, context),
    tie: Math.random(),
  }));
  scored.sort((a, b) => b.score - a.score || a.tie - b.tie);
  return scored.map((s) => s.parent);
}
