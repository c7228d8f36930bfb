/** scheduler.v2.Scheduler: AnnouncePeer and the unary peer, task and host calls. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, type Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Priority, SizeScope, type Host as HostMessage, type Piece } from "../../gen/common/v2/common_pb.ts";
import {
  AnnouncePeerResponseSchema,
  ListHostsResponseSchema,
  type AnnouncePeerRequest,
  type AnnouncePeerResponse,
  type RegisterPeerRequest,
  type Scheduler,
} from "../../gen/scheduler/v2/scheduler_pb.ts";
import { FailedPrecondition, InvalidArgument, NotFound, TaskNotFound, errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { PreheatArgs } from "../job/preheat.ts";
import { preheatFileArgs, preheatImageArgs } from "../job/rpc-args.ts";
import { JobFailed } from "../job/worker.ts";
import { Host } from "../resource/host.ts";
import { Peer, PeerEvent, PeerState } from "../resource/peer.ts";
import type { Resource } from "../resource/resource.ts";
import { TaskEvent, TaskState, type Task } from "../resource/task.ts";
import { calculatePriority } from "../scheduling/priority.ts";
import type { Decision, Scheduling } from "../scheduling/scheduling.ts";
import type { SeedPeers } from "../scheduling/seed-peer.ts";
import type { SchedulingSettings } from "../scheduling/settings.ts";
import { Channel } from "./channel.ts";
import { hostToProto, peerToProto, taskToProto } from "./convert.ts";

/** What the service needs. */
export interface SchedulerServiceOptions {
  resource: Resource;
  scheduling: Scheduling;
  seeds: SeedPeers;
  settings: SchedulingSettings;
  log: Logger;
  /** Whether seed peers are triggered (`seedPeer.enable`). */
  seedPeerEnabled: boolean;
  /** Counts each AnnouncePeer request by variant. */
  onRequest?: (variant: string) => void;
  onDecision?: (decision: Decision) => void;
  /** Called after a host was removed (its persistent cache copies are gone). */
  onHostDeleted?: (hostId: string) => void;
  /** Called for every finished piece a peer reports, with the peer that served it when known. */
  onPiece?: (peer: Peer, piece: Piece, fromSource: boolean, parent: Peer | undefined) => void;
  /** Runs a preheat (PreheatImage, PreheatFile) to its end; rejects when nothing was preheated. */
  preheat?: (args: PreheatArgs, signal: AbortSignal) => Promise<unknown>;
}

/** States in which a peer's download is still going. */
const DOWNLOADING = [
  PeerState.Pending,
  PeerState.ReceivedEmpty,
  PeerState.ReceivedTiny,
  PeerState.ReceivedSmall,
  PeerState.ReceivedNormal,
  PeerState.Running,
  PeerState.BackToSource,
] as const;

function durationNs(duration: Duration | undefined): number {
  if (!duration) return 0;
  return Number(duration.seconds) * 1e9 + duration.nanos;
}

function optionalNumber(value: bigint | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function response(value: MessageInitShape<typeof AnnouncePeerResponseSchema>["response"]): AnnouncePeerResponse {
  return create(AnnouncePeerResponseSchema, { response: value });
}

/** The per-stream state of one AnnouncePeer call. */
interface StreamState {
  peer: Peer | undefined;
}

/** The scheduler.v2.Scheduler implementation. */
export class SchedulerService {
  constructor(private readonly options: SchedulerServiceOptions) {}

  private get resource(): Resource {
    return this.options.resource;
  }

  /** The handlers, for `router.service(Scheduler, …)`. */
  implementation(): Partial<ServiceImpl<typeof Scheduler>> {
    return {
      announcePeer: (requests) => this.announcePeer(requests),
      statPeer: async (request) => peerToProto(this.loadPeer(request.peerId)),
      deletePeer: async (request) => {
        this.deletePeer(this.loadPeer(request.peerId));
        return {};
      },
      statTask: async (request) => {
        const task = this.resource.tasks.load(request.taskId);
        if (!task) throw new TaskNotFound(request.taskId);
        return taskToProto(task);
      },
      deleteTask: async (request) => {
        this.deleteTask(request.hostId, request.taskId);
        return {};
      },
      announceHost: async (request) => {
        this.announceHost(request.host, request.interval);
        return {};
      },
      listHosts: async (request) => {
        const hosts = this.resource.hosts.all().filter((h) => request.type === undefined || h.type === request.type);
        return create(ListHostsResponseSchema, { hosts: hosts.map(hostToProto) });
      },
      deleteHost: async (request) => {
        this.deleteHost(request.hostId);
        return {};
      },
      preheatImage: async (request, context) => {
        await this.preheat(preheatImageArgs(request), context.signal);
        return {};
      },
      preheatFile: async (request, context) => {
        await this.preheat(preheatFileArgs(request), context.signal);
        return {};
      },
    };
  }

  private loadPeer(id: string): Peer {
    if (!id) throw new InvalidArgument("Invalid request: peer_id is required");
    const peer = this.resource.peers.load(id);
    if (!peer) throw new NotFound(`Peer "${id}" not found`);
    return peer;
  }

  /** AnnouncePeer: requests are handled in order; responses may also be pushed by reschedules. */
  async *announcePeer(requests: AsyncIterable<AnnouncePeerRequest>): AsyncIterable<AnnouncePeerResponse> {
    const channel = new Channel<AnnouncePeerResponse>();
    const state: StreamState = { peer: undefined };
    void this.consume(requests, channel, state);
    try {
      yield* channel;
    } finally {
      channel.close();
      const peer = state.peer;
      if (peer && peer.stream === channel) peer.stream = undefined;
      peer?.task.notify();
    }
  }

  private async consume(requests: AsyncIterable<AnnouncePeerRequest>, channel: Channel<AnnouncePeerResponse>, state: StreamState) {
    try {
      for await (const request of requests) {
        if (channel.closed) break;
        await this.handle(request, channel, state);
      }
      channel.close();
    } catch (error) {
      const peer = state.peer;
      if (peer && peer.fsm.is(...DOWNLOADING)) {
        this.options.log.warn("Peer stream ended with an error", { peerId: peer.id, error: errorMessage(error) });
        this.failPeer(peer);
      }
      channel.fail(error);
    }
  }

  private async handle(request: AnnouncePeerRequest, channel: Channel<AnnouncePeerResponse>, state: StreamState) {
    if (!request.hostId || !request.taskId || !request.peerId) {
      throw new InvalidArgument("Invalid AnnouncePeerRequest: host_id, task_id and peer_id are required");
    }
    const variant = request.request.case;
    if (variant === undefined) throw new InvalidArgument("Invalid AnnouncePeerRequest: request is required");
    this.options.onRequest?.(variant);
    const peer = state.peer;
    if (!peer) {
      if (variant !== "registerPeerRequest") {
        throw new InvalidArgument(`Invalid AnnouncePeerRequest: the first message must be RegisterPeerRequest, got "${variant}"`);
      }
      await this.register(request, request.request.value as RegisterPeerRequest, channel, state);
      return;
    }
    if (request.peerId !== peer.id || request.taskId !== peer.task.id || request.hostId !== peer.host.id) {
      throw new InvalidArgument(`Invalid AnnouncePeerRequest: stream belongs to peer "${peer.id}", got "${request.peerId}"`);
    }
    const now = Date.now();
    peer.updatedAt = now;
    peer.task.updatedAt = now;
    const req = request.request;
    switch (req.case) {
      case "registerPeerRequest":
        throw new InvalidArgument(`Invalid AnnouncePeerRequest: peer "${peer.id}" is already registered`);
      case "downloadPeerStartedRequest":
        if (peer.fsm.can(PeerEvent.Download)) peer.event(PeerEvent.Download);
        this.ensureTaskRunning(peer.task);
        return;
      case "downloadPeerBackToSourceStartedRequest":
        if (peer.state !== PeerState.BackToSource) peer.event(PeerEvent.DownloadBackToSource);
        this.ensureTaskRunning(peer.task);
        return;
      case "reschedulePeerRequest":
        for (const parent of req.value.candidateParents) if (parent.id) peer.blockParents.add(parent.id);
        await this.options.scheduling.scheduleCandidateParents(peer, new Set([peer.id, ...peer.blockParents]));
        return;
      case "downloadPeerFinishedRequest":
        this.finishPeer(peer);
        return;
      case "downloadPeerBackToSourceFinishedRequest":
        this.finishPeer(peer);
        return;
      case "downloadPeerFailedRequest":
        this.options.log.info("Peer failed", { peerId: peer.id, description: req.value.description });
        this.failPeer(peer);
        return;
      case "downloadPeerBackToSourceFailedRequest": {
        this.options.log.info("Peer failed back-to-source", { peerId: peer.id, description: req.value.description });
        const task = peer.task;
        if (peer.host.isSeed) task.seed.failedAt = now;
        this.failPeer(peer);
        if (task.state === TaskState.Running) task.event(TaskEvent.DownloadFailed);
        task.contentLength = -1;
        return;
      }
      case "downloadPieceFinishedRequest":
        this.finishPiece(peer, req.value.piece, false);
        return;
      case "downloadPieceBackToSourceFinishedRequest":
        this.finishPiece(peer, req.value.piece, true);
        return;
      case "downloadPieceFailedRequest": {
        const { parentId, temporary, pieceNumber } = req.value;
        if (!parentId) throw new InvalidArgument("Invalid DownloadPieceFailedRequest: parent_id is required");
        peer.blockParents.add(parentId);
        const parent = this.resource.peers.load(parentId);
        if (parent) {
          parent.host.uploadFailedCount++;
          peer.task.deletePeerEdge(parentId, peer.id);
        }
        if (!temporary) {
          throw new FailedPrecondition(`Cannot download piece "${pieceNumber ?? "?"}" from parent "${parentId}": permanent failure`);
        }
        return;
      }
      case "downloadPieceBackToSourceFailedRequest":
        this.options.log.debug("Piece failed from source", { peerId: peer.id, piece: req.value.pieceNumber });
        return;
    }
  }

  /** Dragonfly's handleRegisterPeerRequest, with a seed-aware back-to-source decision. */
  private async register(
    request: AnnouncePeerRequest,
    register: RegisterPeerRequest,
    channel: Channel<AnnouncePeerResponse>,
    state: StreamState,
  ): Promise<void> {
    const { resource, seeds, settings } = this.options;
    const download = register.download;
    if (!download) throw new InvalidArgument("Invalid RegisterPeerRequest: download is required");
    if (!download.url) throw new InvalidArgument("Invalid RegisterPeerRequest: download.url is required");
    const host = resource.hosts.load(request.hostId);
    if (!host) throw new NotFound(`Host "${request.hostId}" not found`);
    if (resource.peers.load(request.peerId)) throw new FailedPrecondition(`Peer "${request.peerId}" is already registered`);

    const task = resource.tasks.loadOrCreate(request.taskId, {
      type: download.type,
      url: download.url,
      digest: download.digest,
      tag: download.tag,
      application: download.application,
      filteredQueryParams: download.filteredQueryParams,
      requestHeader: download.requestHeader,
      backToSourceLimit: settings.backToSourceCount,
    });
    task.url = download.url;
    task.requestHeader = download.requestHeader;
    task.setSize(
      optionalNumber(download.actualContentLength),
      optionalNumber(download.actualPieceLength ?? download.pieceLength),
      optionalNumber(download.actualPieceCount),
    );
    const peer = new Peer(request.peerId, task, host, {
      range: download.range,
      priority: download.priority,
      concurrentPieceCount: download.concurrentPieceCount,
      download,
    });
    peer.priority = calculatePriority(download.priority, download.url, download.application, settings.applications);
    peer.disableBackToSource = download.disableBackToSource;
    resource.peers.store(peer);
    peer.stream = channel;
    state.peer = peer;

    if (download.metadataOnly) {
      this.ensureTaskRunning(task);
      peer.event(PeerEvent.RegisterNormal);
      channel.send(response({ case: "metadataOnlyResponse", value: {} }));
      this.options.onDecision?.("metadata_only");
      return;
    }

    if (download.needBackToSource) {
      peer.needBackToSource = true;
    } else if (
      task.fsm.is(TaskState.Pending, TaskState.Failed, TaskState.Leave) ||
      (task.state === TaskState.Succeeded && !task.hasAvailablePeer(new Set([peer.id]), host.id))
    ) {
      if (!host.isSeed && this.options.seedPeerEnabled && seeds.available()) {
        switch (peer.priority) {
          case Priority.LEVEL1:
            throw new FailedPrecondition(`Cannot download task "${task.id}": forbidden by priority LEVEL1`);
          case Priority.LEVEL2:
            throw new NotFound(`Cannot download task "${task.id}": peer not found candidate peers`);
          case Priority.LEVEL3:
            peer.needBackToSource = true;
            break;
          default:
            if (seeds.recentlyFailed(task) || !seeds.triggerBackToSource(task, download)) peer.needBackToSource = true;
        }
      } else {
        peer.needBackToSource = true;
      }
    } else if (!host.isSeed && this.options.seedPeerEnabled) {
      seeds.spread(task, download);
    }

    this.ensureTaskRunning(task);
    if (task.sizeScope() === SizeScope.EMPTY) {
      peer.event(PeerEvent.RegisterEmpty);
      channel.send(response({ case: "emptyTaskResponse", value: {} }));
      this.options.onDecision?.("empty");
      return;
    }
    peer.event(PeerEvent.RegisterNormal);
    await this.options.scheduling.scheduleCandidateParents(peer, new Set([peer.id, ...peer.blockParents]));
  }

  private ensureTaskRunning(task: Task): void {
    if (task.state !== TaskState.Running) task.event(TaskEvent.Download);
  }

  /** A peer holds the whole content: it and (for a full-range download) its task succeed. */
  private finishPeer(peer: Peer): void {
    if (peer.state !== PeerState.Succeeded) peer.event(PeerEvent.DownloadSucceeded);
    const task = peer.task;
    if (peer.isFullRange && task.state !== TaskState.Succeeded && task.fsm.can(TaskEvent.DownloadSucceeded)) {
      task.event(TaskEvent.DownloadSucceeded);
    }
    if (peer.host.isSeed) task.seed.failedAt = undefined;
  }

  /** A peer's download failed: it stops being a parent and its children look elsewhere. */
  private failPeer(peer: Peer): void {
    if (peer.fsm.can(PeerEvent.DownloadFailed)) peer.event(PeerEvent.DownloadFailed);
    const children = peer.task.deletePeerOutEdges(peer.id);
    this.options.scheduling.releaseChildren(peer.id, children);
  }

  private finishPiece(peer: Peer, piece: Piece | undefined, fromSource: boolean): void {
    if (!piece) throw new InvalidArgument("Invalid piece report: piece is required");
    const now = Date.now();
    const costNs = durationNs(piece.cost);
    peer.finishPiece(piece.number, costNs, now);
    const length = Number(piece.length);
    if (fromSource) {
      peer.task.pieces.set(piece.number, piece);
      this.options.onPiece?.(peer, piece, true, undefined);
      return;
    }
    const parent = piece.parentId ? this.resource.peers.load(piece.parentId) : undefined;
    this.options.onPiece?.(peer, piece, false, parent);
    if (!parent) return;
    parent.updatedAt = now;
    parent.host.updatedAt = Math.max(parent.host.updatedAt, now);
    if (length > 0 && costNs > 0) parent.uploadCosts.push(costNs / length);
    parent.host.recordUpload(length, costNs);
  }

  private async preheat(args: PreheatArgs, signal: AbortSignal): Promise<void> {
    if (!this.options.preheat) throw new ConnectError("Preheat is not enabled on this scheduler", Code.Unimplemented);
    try {
      await this.options.preheat(args, signal);
    } catch (error) {
      if (error instanceof JobFailed) throw new ConnectError(error.message, Code.Unknown);
      throw error;
    }
  }

  /** Removes a peer; its children are released. */
  deletePeer(peer: Peer): void {
    const children = this.resource.peers.delete(peer.id);
    this.options.scheduling.releaseChildren(peer.id, children);
  }

  /**
   * Removes a task's peers on `hostId` (what a dfdaemon asks when it evicts its copy), or every peer of the
   * task when `hostId` is empty; a task left without peers is forgotten, so its next download starts afresh.
   */
  deleteTask(hostId: string, taskId: string): void {
    if (!taskId) throw new InvalidArgument("Invalid DeleteTaskRequest: task_id is required");
    const task = this.resource.tasks.load(taskId);
    if (!task) throw new TaskNotFound(taskId);
    const peers = task.peers().filter((p) => !hostId || p.host.id === hostId);
    for (const peer of peers) this.deletePeer(peer);
    if (task.peerCount === 0) {
      if (task.fsm.can(TaskEvent.Leave)) task.event(TaskEvent.Leave);
      this.resource.tasks.delete(taskId);
    }
  }

  /** Creates or refreshes a host. */
  announceHost(info: HostMessage | undefined, interval: Duration | undefined): void {
    if (!info) throw new InvalidArgument("Invalid AnnounceHostRequest: host is required");
    if (!info.id) throw new InvalidArgument("Invalid AnnounceHostRequest: host.id is required");
    if (!info.ip) throw new InvalidArgument("Invalid AnnounceHostRequest: host.ip is required");
    const intervalMs = interval ? durationMs(interval) : undefined;
    const existing = this.resource.hosts.load(info.id);
    if (existing) existing.update(info, intervalMs && intervalMs > 0 ? intervalMs : undefined);
    else this.resource.hosts.store(new Host(info, intervalMs && intervalMs > 0 ? intervalMs : undefined));
  }

  /** Removes a host: its peers leave and their children are released. */
  deleteHost(hostId: string): void {
    if (!hostId) throw new InvalidArgument("Invalid DeleteHostRequest: host_id is required");
    const host = this.resource.hosts.load(hostId);
    if (!host) throw new NotFound(`Host "${hostId}" not found`);
    for (const peer of [...host.peers.values()]) this.deletePeer(peer);
    this.resource.hosts.delete(hostId);
    this.options.onHostDeleted?.(hostId);
  }
}
