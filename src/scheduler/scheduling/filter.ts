/** The candidate-parent filter (Dragonfly's filterCandidateParents), sampling among eligible peers only. */
import { PeerState, type Peer } from "../resource/peer.ts";
import { isBadParent } from "./bad-parent.ts";

/** Why a peer was not a candidate, for logs and tests. */
export type FilterReason =
  | "blocklisted"
  | "disable-shared"
  | "same-host"
  | "no-vertex"
  | "no-source"
  | "bad"
  | "cycle";

/** Whether one peer may be a parent of `child`, or the reason it may not (checks 2–7 of §7.3). */
export function parentRejection(parent: Peer, child: Peer, blocklist: ReadonlySet<string>): FilterReason | undefined {
  if (parent.id === child.id || blocklist.has(parent.id)) return "blocklisted";
  if (parent.host.disableShared) return "disable-shared";
  if (parent.host.id === child.host.id) return "same-host";
  const dag = child.task.dag;
  if (!dag.hasVertex(parent.id)) return "no-vertex";
  // A normal peer that is downloading but has no parents has no data to give; seeds fetch from the origin.
  if (
    !parent.host.isSeed &&
    dag.inDegree(parent.id) === 0 &&
    !parent.fsm.is(PeerState.BackToSource, PeerState.Succeeded)
  ) {
    return "no-source";
  }
  if (isBadParent(parent)) return "bad";
  return undefined;
}

/**
 * Candidate parents of `child`: every peer of the task that passes the checks and the batched cycle check,
 * then at most `limit` of them, seeds first and the rest sampled uniformly.
 */
export function filterCandidateParents(child: Peer, blocklist: ReadonlySet<string>, limit: number): Peer[] {
  const dag = child.task.dag;
  const eligible: Peer[] = [];
  for (const vertex of dag.getVertices()) {
    if (parentRejection(vertex.value, child, blocklist) === undefined) eligible.push(vertex.value);
  }
  const acyclic = new Set(dag.canAddEdges(eligible.map((p) => p.id), child.id));
  const seeds: Peer[] = [];
  const others: Peer[] = [];
  for (const peer of eligible) {
    if (!acyclic.has(peer.id)) continue;
    (peer.host.isSeed ? seeds : others).push(peer);
  }
  for (let i = others.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [others[i], others[j]] = [others[j]!, others[i]!];
  }
  return [...seeds, ...others].slice(0, Math.max(limit, seeds.length));
}
