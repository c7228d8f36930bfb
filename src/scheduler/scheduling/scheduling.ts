/** The scheduling loop (Dragonfly's ScheduleCandidateParents) and the rescheduling of orphaned children. */
import { create } from "@bufbuild/protobuf";
import { AnnouncePeerResponseSchema } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { FailedPrecondition } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { Host } from "../resource/host.ts";
import { PeerEvent, PeerState, type Peer } from "../resource/peer.ts";
import { peerToProto } from "../rpc/convert.ts";
import { evaluateParents } from "./evaluator.ts";
import { filterCandidateParents } from "./filter.ts";
import type { SeedPeers } from "./seed-peer.ts";
import type { SchedulingSettings } from "./settings.ts";

/** A scheduling outcome, counted in metrics. */
export type Decision = "normal" | "back_to_source" | "empty" | "metadata_only" | "failed";

/** What the scheduling loop needs. */
export interface SchedulingOptions {
  settings: SchedulingSettings;
  seeds: SeedPeers;
  log: Logger;
  onDecision?: (decision: Decision) => void;
}

/** A delay of `ms` × [0.75, 1.25), as Dragonfly's RandomDelayWithJitter. */
export function jittered(ms: number): number {
  return ms * (0.75 + Math.random() * 0.5);
}

const ACTIVE = [PeerState.ReceivedNormal, PeerState.Running] as const;

/** Children of a peer on normal hosts. */
function normalChildCount(peer: Peer): number {
  let count = 0;
  for (const child of peer.children()) if (!child.host.isSeed) count++;
  return count;
}

/** Chooses parents for peers and answers on their streams. */
export class Scheduling {
  constructor(private readonly options: SchedulingOptions) {}

  private loadLimit = (host: Host): number =>
    host.isSeed ? this.options.settings.seedLoadLimit : this.options.settings.normalLoadLimit;

  /** The best parents for `peer` now: filtered, scored, and cut to candidateParentLimit. */
  findCandidateParents(peer: Peer, blocklist: ReadonlySet<string>): Peer[] {
    if (!peer.fsm.is(...ACTIVE)) return [];
    const { settings } = this.options;
    const candidates = filterCandidateParents(peer, blocklist, settings.filterParentLimit);
    // Hosts at their upload limit are left out while others remain; with no others they are still better
    // than sending the peer to the origin.
    const free = candidates.filter((p) => p.host.concurrentUploadCount < this.loadLimit(p.host));
    let pool = free.length > 0 ? free : candidates;
    // Parents that already serve their share of this task's normal children are left out while others can
    // serve: each piece then leaves a parent about once, so no uplink is split across the swarm (a client
    // takes a piece from whichever parent has it first, so siblings under one parent duplicate its upload).
    if (!peer.host.isSeed) {
      const open = pool.filter((p) => {
        const limit = p.host.isSeed ? settings.seedChildLimit : settings.peerChildLimit;
        return limit === 0 || normalChildCount(p) < limit;
      });
      if (open.length > 0) pool = open;
    }
    return evaluateParents(pool, peer, settings.algorithm, this.loadLimit).slice(0, settings.candidateParentLimit);
  }

  /** Sends NeedBackToSource. */
  private sendBackToSource(peer: Peer, description: string): void {
    peer.stream?.send(
      create(AnnouncePeerResponseSchema, { response: { case: "needBackToSourceResponse", value: { description } } }),
    );
    this.options.onDecision?.("back_to_source");
    this.options.log.debug("Peer goes back to source", { peerId: peer.id, taskId: peer.task.id, description });
  }

  /**
   * Dragonfly's retry loop with two changes: a peer waits on task changes (a parent appearing) rather than
   * only sleeping, and while a triggered seed is on its way, failures do not count towards the limits,
   * so a hot task's first wave waits for the seed instead of storming the origin.
   * Returns when a response was sent or the peer no longer needs one; throws after retryLimit.
   */
  async scheduleCandidateParents(peer: Peer, blocklist: ReadonlySet<string>): Promise<void> {
    const generation = ++peer.scheduleGeneration;
    peer.scheduleCount++;
    const { settings, seeds } = this.options;
    const task = peer.task;
    let failures = 0;
    for (;;) {
      if (generation !== peer.scheduleGeneration || peer.stream?.closed === true || !peer.fsm.is(...ACTIVE)) return;
      const mayBackToSource = task.canBackToSource() && !peer.disableBackToSource;
      if (mayBackToSource && peer.needBackToSource) {
        this.sendBackToSource(peer, "peer needs back-to-source");
        return;
      }
      task.deletePeerInEdges(peer.id);
      const candidates = this.findCandidateParents(peer, blocklist);
      const added = candidates.length > 0 ? task.addPeerEdges(candidates, peer) : [];
      if (added.length > 0) {
        peer.stream?.send(
          create(AnnouncePeerResponseSchema, {
            response: {
              case: "normalTaskResponse",
              value: { candidateParents: added.map((p) => peerToProto(p)) },
            },
          }),
        );
        this.options.onDecision?.("normal");
        this.options.log.debug("Scheduled parents", { peerId: peer.id, taskId: task.id, parents: added.map((p) => p.id) });
        return;
      }
      // Parents are looked for first, so that a seed appearing during the last wait is used at once.
      const seedPending = seeds.pending(task);
      if (mayBackToSource && failures >= settings.retryBackToSourceLimit && !seedPending) {
        this.sendBackToSource(peer, "scheduling exceeded RetryBackToSourceLimit");
        return;
      }
      if (failures >= settings.retryLimit && !seedPending) {
        this.options.onDecision?.("failed");
        throw new FailedPrecondition(`Cannot schedule peer "${peer.id}": scheduling exceeded RetryLimit`);
      }
      failures++;
      await this.waitForChange(peer, jittered(settings.retryIntervalMs));
    }
  }

  private async waitForChange(peer: Peer, ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([peer.task.changed(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /**
   * After `parent` failed or left: its children block it; a child left with no parent that still needs
   * one gets a new schedule pushed on its stream.
   */
  releaseChildren(parentId: string, children: readonly Peer[]): void {
    for (const child of children) {
      child.blockParents.add(parentId);
      child.task.deletePeerEdge(parentId, child.id);
      if (!child.fsm.is(...ACTIVE) || child.stream === undefined || child.stream.closed) continue;
      if (child.task.dag.inDegree(child.id) > 0) continue;
      this.schedule(child);
    }
  }

  /** Runs a schedule in the background; a failure fails the peer and ends its stream with the error. */
  schedule(peer: Peer): void {
    const blocklist = new Set([peer.id, ...peer.blockParents]);
    this.scheduleCandidateParents(peer, blocklist).catch((error: unknown) => {
      if (peer.fsm.can(PeerEvent.DownloadFailed)) peer.event(PeerEvent.DownloadFailed);
      peer.stream?.fail(error);
    });
  }
}
