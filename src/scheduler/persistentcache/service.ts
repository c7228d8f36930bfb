/** scheduler.v2.Scheduler's persistent cache calls: imports, the AnnouncePersistentCachePeer stream, stat and delete. */
import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AnnouncePersistentCachePeerResponseSchema,
  type AnnouncePersistentCachePeerRequest,
  type AnnouncePersistentCachePeerResponse,
  type RegisterPersistentCachePeerRequest,
  type Scheduler,
  type UploadPersistentCacheTaskStartedRequest,
} from "../../gen/scheduler/v2/scheduler_pb.ts";
import { FailedPrecondition, InvalidArgument, NotFound } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { Host } from "../resource/host.ts";
import type { HostManager } from "../resource/host-manager.ts";
import { persistentCachePeerToProto, persistentCacheTaskToProto } from "./convert.ts";
import { PersistentCachePeer, PersistentCachePeerEvent, PersistentCachePeerState } from "./peer.ts";
import type { Replicator } from "./replicator.ts";
import type { PersistentCacheResource } from "./resource.ts";
import { PersistentCacheTask, PersistentCacheTaskEvent, PersistentCacheTaskState } from "./task.ts";

/** Default number of parents offered to a persistent cache peer at once. */
export const DEFAULT_PERSISTENT_CACHE_PARENT_LIMIT = 4;

/** What the service needs. */
export interface PersistentCacheServiceOptions {
  hosts: HostManager;
  resource: PersistentCacheResource;
  replicator: Replicator;
  log: Logger;
  /** Parents offered per scheduling decision. */
  candidateParentLimit?: () => number;
  /**
   * Told when a task (`imported`, before the importer is answered) or a copy of one (`copied`) succeeds, so that
   * the metadata can be written without waiting for the next sweep.
   */
  onChange?: (change: "imported" | "copied") => void;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function requireIds(message: string, ids: Record<string, string>): void {
  for (const [name, value] of Object.entries(ids)) {
    if (!value) throw new InvalidArgument(`Invalid ${message}: field "${name}" is required`);
  }
}

/** The persistent cache part of scheduler.v2.Scheduler. */
export class PersistentCacheService {
  constructor(private readonly options: PersistentCacheServiceOptions) {}

  /** The handlers, merged into the scheduler's service. */
  implementation(): Partial<ServiceImpl<typeof Scheduler>> {
    return {
      announcePersistentCachePeer: (requests) => this.announce(requests),
      statPersistentCachePeer: async (request) => {
        requireIds("StatPersistentCachePeerRequest", { peer_id: request.peerId });
        return persistentCachePeerToProto(this.loadPeer(request.peerId));
      },
      deletePersistentCachePeer: async (request) => {
        requireIds("DeletePersistentCachePeerRequest", { peer_id: request.peerId });
        this.deletePeer(this.loadPeer(request.peerId));
        return {};
      },
      uploadPersistentCacheTaskStarted: async (request) => {
        this.uploadStarted(request);
        return {};
      },
      uploadPersistentCacheTaskFinished: async (request) => {
        requireIds("UploadPersistentCacheTaskFinishedRequest", { peer_id: request.peerId, task_id: request.taskId });
        const peer = this.loadPeer(request.peerId);
        if (peer.task.id !== request.taskId) throw new InvalidArgument(`Peer "${peer.id}" does not belong to task "${request.taskId}"`);
        peer.event(PersistentCachePeerEvent.Succeeded);
        const task = peer.task;
        if (task.state === PersistentCacheTaskState.Uploading) task.event(PersistentCacheTaskEvent.Succeeded);
        this.options.log.info("Persistent cache task imported", {
          taskId: task.id,
          hostId: peer.host.id,
          contentLength: task.contentLength,
          replicas: task.persistentReplicaCount,
        });
        void this.options.replicator.replicate(task);
        this.options.onChange?.("imported");
        return persistentCacheTaskToProto(task);
      },
      uploadPersistentCacheTaskFailed: async (request) => {
        requireIds("UploadPersistentCacheTaskFailedRequest", { peer_id: request.peerId });
        const peer = this.loadPeer(request.peerId);
        this.options.log.info("Persistent cache import failed", { taskId: peer.task.id, description: request.description });
        if (peer.fsm.can(PersistentCachePeerEvent.Failed)) peer.event(PersistentCachePeerEvent.Failed);
        const task = peer.task;
        if (task.state === PersistentCacheTaskState.Uploading) task.event(PersistentCacheTaskEvent.Failed);
        this.deletePeer(peer);
        return {};
      },
      statPersistentCacheTask: async (request) => {
        requireIds("StatPersistentCacheTaskRequest", { task_id: request.taskId });
        return persistentCacheTaskToProto(this.loadTask(request.taskId));
      },
      deletePersistentCacheTask: async (request) => {
        requireIds("DeletePersistentCacheTaskRequest", { task_id: request.taskId });
        const task = this.loadTask(request.taskId);
        const failed = await this.options.replicator.deleteEverywhere(task, `asked by host "${request.hostId}"`);
        if (failed.length > 0) {
          throw new FailedPrecondition(
            `Cannot delete persistent cache task "${task.id}" from every host: ${failed.map((h) => `"${h}"`).join(", ")} did not answer`,
          );
        }
        return {};
      },
    };
  }

  private loadHost(id: string): Host {
    const host = this.options.hosts.load(id);
    if (!host) throw new NotFound(`Host "${id}" not found`);
    return host;
  }

  private loadTask(id: string): PersistentCacheTask {
    const task = this.options.resource.loadTask(id);
    if (!task || Date.now() >= task.expiresAt) throw new NotFound(`Persistent cache task "${id}" not found`);
    return task;
  }

  private loadPeer(id: string): PersistentCachePeer {
    const peer = this.options.resource.loadPeer(id);
    if (!peer) throw new NotFound(`Persistent cache peer "${id}" not found`);
    return peer;
  }

  /** Removes a peer; a lost persistent copy is replaced, and a task without peers is forgotten. */
  deletePeer(peer: PersistentCachePeer): void {
    const { resource, replicator } = this.options;
    resource.deletePeer(peer);
    const task = peer.task;
    if (task.peers.size === 0 && task.replicating.size === 0) {
      resource.deleteTask(task.id);
      return;
    }
    if (peer.persistent && peer.state === PersistentCachePeerState.Succeeded) void replicator.replicate(task);
  }

  /** Drops the other peers a host had for a task: it holds one copy at most. */
  private replaceHostPeers(task: PersistentCacheTask, host: Host): void {
    for (const other of [...task.peers.values()]) if (other.host.id === host.id) this.options.resource.deletePeer(other);
  }

  private uploadStarted(request: UploadPersistentCacheTaskStartedRequest): void {
    const { resource } = this.options;
    requireIds("UploadPersistentCacheTaskStartedRequest", {
      host_id: request.hostId,
      task_id: request.taskId,
      peer_id: request.peerId,
    });
    if (request.persistentReplicaCount < 1n) {
      throw new InvalidArgument('Invalid UploadPersistentCacheTaskStartedRequest: field "persistent_replica_count" must be at least 1');
    }
    const ttlMs = request.ttl ? durationMs(request.ttl) : 0;
    if (ttlMs <= 0) throw new InvalidArgument('Invalid UploadPersistentCacheTaskStartedRequest: field "ttl" must be positive');
    if (request.contentLength > 0n && request.pieceLength === 0n) {
      throw new InvalidArgument('Invalid UploadPersistentCacheTaskStartedRequest: field "piece_length" is required');
    }
    const host = this.loadHost(request.hostId);
    if (resource.loadPeer(request.peerId)) throw new FailedPrecondition(`Persistent cache peer "${request.peerId}" already exists`);
    const init = {
      id: request.taskId,
      persistentReplicaCount: Number(request.persistentReplicaCount),
      tag: request.tag,
      application: request.application,
      pieceLength: Number(request.pieceLength),
      contentLength: Number(request.contentLength),
      pieceCount: request.pieceCount,
      ttlMs,
    };
    let task = resource.loadTask(request.taskId);
    if (task && Date.now() >= task.expiresAt) {
      void this.options.replicator.deleteEverywhere(task, "ttl");
      task = undefined;
    }
    if (task?.state === PersistentCacheTaskState.Uploading) {
      const uploader = [...task.peers.values()].find((p) => p.state === PersistentCachePeerState.Uploading);
      if (uploader && uploader.host.id !== host.id) {
        throw new FailedPrecondition(`Persistent cache task "${task.id}" is being imported by host "${uploader.host.id}"`);
      }
    }
    if (task && task.state !== PersistentCacheTaskState.Succeeded) {
      // An unfinished import starts over, TTL included.
      resource.deleteTask(task.id);
      task = undefined;
    }
    if (!task) {
      task = new PersistentCacheTask(init);
      resource.storeTask(task);
    } else if (task.contentLength !== init.contentLength || task.pieceLength !== init.pieceLength) {
      throw new FailedPrecondition(
        `Persistent cache task "${task.id}" already exists with content length ${task.contentLength} and piece length ${task.pieceLength}`,
      );
    } else {
      // A re-import of a stored task keeps its metadata but may raise the replica count.
      task.persistentReplicaCount = Math.max(task.persistentReplicaCount, init.persistentReplicaCount);
    }
    if (task.fsm.can(PersistentCacheTaskEvent.Upload)) task.event(PersistentCacheTaskEvent.Upload);
    this.replaceHostPeers(task, host);
    const peer = new PersistentCachePeer(request.peerId, true, task, host);
    peer.event(PersistentCachePeerEvent.Upload);
    resource.storePeer(peer);
  }

  private register(request: AnnouncePersistentCachePeerRequest, register: RegisterPersistentCachePeerRequest): PersistentCachePeer {
    const { resource } = this.options;
    const host = this.loadHost(request.hostId);
    const task = this.loadTask(request.taskId);
    if (task.state !== PersistentCacheTaskState.Succeeded) {
      throw new FailedPrecondition(`Persistent cache task "${task.id}" is not ready: state "${task.state}"`);
    }
    if (resource.loadPeer(request.peerId)) throw new FailedPrecondition(`Persistent cache peer "${request.peerId}" already exists`);
    this.replaceHostPeers(task, host);
    const peer = new PersistentCachePeer(request.peerId, register.persistent, task, host);
    resource.storePeer(peer);
    return peer;
  }

  /** Parents for a peer: other hosts' succeeded copies, never its own or blocked ones, in random order. */
  private schedule(peer: PersistentCachePeer): AnnouncePersistentCachePeerResponse {
    const task = peer.task;
    if (task.contentLength === 0) {
      if (peer.fsm.can(PersistentCachePeerEvent.RegisterEmpty)) peer.event(PersistentCachePeerEvent.RegisterEmpty);
      return create(AnnouncePersistentCachePeerResponseSchema, {
        response: { case: "emptyPersistentCacheTaskResponse", value: {} },
      });
    }
    if (peer.fsm.can(PersistentCachePeerEvent.RegisterNormal)) peer.event(PersistentCachePeerEvent.RegisterNormal);
    const hosts = this.options.hosts;
    const limit = this.options.candidateParentLimit?.() ?? DEFAULT_PERSISTENT_CACHE_PARENT_LIMIT;
    const candidates = shuffle(
      task
        .succeededPeers()
        .filter(
          (p) =>
            p.host.id !== peer.host.id &&
            !p.host.disableShared &&
            !peer.blockParents.has(p.id) &&
            hosts.load(p.host.id) === p.host,
        ),
    )
      .sort((a, b) => Number(b.persistent) - Number(a.persistent))
      .slice(0, Math.max(1, limit));
    if (candidates.length === 0) {
      throw new FailedPrecondition(`Cannot download persistent cache task "${task.id}": no other peer holds it`);
    }
    return create(AnnouncePersistentCachePeerResponseSchema, {
      response: {
        case: "normalPersistentCacheTaskResponse",
        value: { candidateCacheParents: candidates.map(persistentCachePeerToProto) },
      },
    });
  }

  /** AnnouncePersistentCachePeer: register first, then progress reports; a stream that ends unfinished fails its peer. */
  async *announce(requests: AsyncIterable<AnnouncePersistentCachePeerRequest>): AsyncGenerator<AnnouncePersistentCachePeerResponse> {
    let peer: PersistentCachePeer | undefined;
    try {
      for await (const request of requests) {
        requireIds("AnnouncePersistentCachePeerRequest", {
          host_id: request.hostId,
          task_id: request.taskId,
          peer_id: request.peerId,
        });
        const req = request.request;
        if (req.case === undefined) throw new InvalidArgument('Invalid AnnouncePersistentCachePeerRequest: field "request" is required');
        if (!peer) {
          if (req.case !== "registerPersistentCachePeerRequest") {
            throw new InvalidArgument(
              `Invalid AnnouncePersistentCachePeerRequest: the first message must be RegisterPersistentCachePeerRequest, got "${req.case}"`,
            );
          }
          peer = this.register(request, req.value);
          yield this.schedule(peer);
          continue;
        }
        if (request.peerId !== peer.id || request.taskId !== peer.task.id || request.hostId !== peer.host.id) {
          throw new InvalidArgument(`Invalid AnnouncePersistentCachePeerRequest: stream belongs to peer "${peer.id}", got "${request.peerId}"`);
        }
        const now = Date.now();
        peer.updatedAt = now;
        switch (req.case) {
          case "registerPersistentCachePeerRequest":
            throw new InvalidArgument(`Invalid AnnouncePersistentCachePeerRequest: peer "${peer.id}" is already registered`);
          case "downloadPersistentCachePeerStartedRequest":
            if (peer.fsm.can(PersistentCachePeerEvent.Download)) peer.event(PersistentCachePeerEvent.Download);
            break;
          case "reschedulePersistentCachePeerRequest":
            for (const parent of req.value.candidateParents) if (parent.id) peer.blockParents.add(parent.id);
            yield this.schedule(peer);
            break;
          case "downloadPersistentCachePeerFinishedRequest":
            peer.event(PersistentCachePeerEvent.Succeeded);
            peer.task.updatedAt = now;
            this.options.onChange?.("copied");
            break;
          case "downloadPersistentCachePeerFailedRequest":
            this.options.log.info("Persistent cache peer failed", { peerId: peer.id, description: req.value.description });
            return;
          case "downloadPieceFinishedRequest": {
            const piece = req.value.piece;
            if (piece?.cost) peer.costNs += durationMs(piece.cost) * 1e6;
            const parent = piece?.parentId ? this.options.resource.loadPeer(piece.parentId) : undefined;
            if (parent) parent.updatedAt = now;
            break;
          }
          case "downloadPieceFailedRequest":
            if (req.value.parentId) peer.blockParents.add(req.value.parentId);
            break;
        }
      }
    } finally {
      if (peer && peer.state !== PersistentCachePeerState.Succeeded && this.options.resource.loadPeer(peer.id) === peer) {
        if (peer.fsm.can(PersistentCachePeerEvent.Failed)) peer.event(PersistentCachePeerEvent.Failed);
        this.options.resource.deletePeer(peer);
      }
    }
  }
}
