/**
 * Persistent cache tasks on a dfdaemon: imports, downloads (exports and the scheduler's replications), stat and
 * delete. One background job per task downloads it; every request for the task watches storage and streams the
 * pieces as they land, so concurrent exports of one task fetch it once.
 */
import { ConnectError, Code } from "@connectrpc/connect";
import type { PersistentCacheTask } from "../../gen/common/v2/common_pb.ts";
import { FailedPrecondition, NotFound, TransferError, errorMessage } from "../../common/errors.ts";
import { peerId as newPeerId } from "../../common/ids.ts";
import type { Logger } from "../../common/log.ts";
import { piecesOf, type PieceGeometry } from "../../common/piece.ts";
import type { UploadDialer } from "../download/parent-fetcher.ts";
import type { PeerMetrics } from "../metrics.ts";
import type { PieceRecord } from "../storage/metadata.ts";
import type { Storage, StoredTask } from "../storage/storage.ts";
import type { PieceTransport } from "../transport/transport.ts";
import { runPersistentCacheDownload, type PersistentCacheDownloadSettings } from "./downloader.ts";
import { checkImport, copyIntoStorage, importPieceLength, importTaskId, localTaskMessage, type ImportRequest } from "./importer.ts";
import { PersistentCacheSchedulerCalls, type SchedulerPicker } from "./scheduler-calls.ts";

/** What the manager depends on. */
export interface PersistentCacheManagerDeps {
  storage: Storage;
  /** Picks the scheduler of a task (the daemon's scheduler client). */
  schedulers: SchedulerPicker;
  transport: PieceTransport;
  dial: UploadDialer;
  identity: { ip: string; hostname: string; seed: boolean; hostId: string };
  settings: PersistentCacheDownloadSettings;
  metrics: PeerMetrics;
  log: Logger;
}

/** What a download request asks for. */
export interface PersistentCacheDownloadRequest {
  taskId: string;
  persistent: boolean;
  tag?: string;
  application?: string;
  timeoutMs?: number;
}

/** Events a download request receives. */
export type PersistentCacheEvent =
  | { kind: "started"; taskId: string; peerId: string; contentLength: number; pieces: PieceGeometry[] }
  | { kind: "piece"; taskId: string; peerId: string; piece: PieceRecord; trafficType: number };

interface Job {
  peerId: string;
  ready: Promise<StoredTask>;
  done: Promise<void>;
  failure?: unknown;
}

function isNotFound(error: unknown): boolean {
  return (error instanceof ConnectError && error.code === Code.NotFound) || error instanceof NotFound;
}

/** Persistent cache tasks of one dfdaemon. */
export class PersistentCacheManager {
  private readonly jobs = new Map<string, Job>();
  private readonly stopping = new AbortController();
  readonly schedulers: PersistentCacheSchedulerCalls;

  constructor(private readonly deps: PersistentCacheManagerDeps) {
    this.schedulers = new PersistentCacheSchedulerCalls(deps.schedulers);
  }

  private newPeerId(): string {
    const { ip, hostname, seed } = this.deps.identity;
    return newPeerId(ip, hostname, seed);
  }

  /** A stored persistent cache task, if this host holds one with that ID. */
  local(taskId: string): StoredTask | undefined {
    const task = this.deps.storage.get(taskId);
    return task?.record.kind === "persistentCache" ? task : undefined;
  }

  /** IDs of tasks downloading now. */
  activeTaskIds(): Set<string> {
    return new Set(this.jobs.keys());
  }

  /** Imports a file; resolves with the task as the scheduler (or, without one, this host) sees it. */
  async import(request: ImportRequest, signal: AbortSignal): Promise<PersistentCacheTask> {
    const { storage, identity, log } = this.deps;
    const contentLength = checkImport(request);
    const taskId = await importTaskId(request, signal);
    const pieceLength = importPieceLength(contentLength, request);
    const ids = { hostId: identity.hostId, taskId, peerId: this.newPeerId() };
    const scheduled = this.schedulers.configured;
    if (this.jobs.has(taskId)) throw new FailedPrecondition(`Persistent cache task "${taskId}" is being downloaded here`);
    if (scheduled) {
      await this.schedulers.uploadStarted({
        ...ids,
        persistentReplicaCount: BigInt(request.persistentReplicaCount),
        tag: request.tag,
        application: request.application,
        pieceLength: BigInt(pieceLength),
        contentLength: BigInt(contentLength),
        pieceCount: Math.ceil(contentLength / pieceLength),
        ttl: { seconds: BigInt(Math.floor(request.ttlMs / 1000)), nanos: (request.ttlMs % 1000) * 1e6 },
      });
    }
    const started = Date.now();
    let stored = this.local(taskId);
    try {
      if (stored?.record.state === "succeeded" && stored.record.contentLength === contentLength && stored.record.pieceLength === pieceLength) {
        storage.update(stored, { persistent: true, ttlMs: request.ttlMs });
      } else {
        if (stored) storage.delete(taskId);
        stored = storage.create({
          id: taskId,
          url: "",
          pieceLength,
          contentLength,
          kind: "persistentCache",
          persistent: true,
          ttlMs: request.ttlMs,
        });
        copyIntoStorage(storage, stored, request.path, signal);
        storage.succeed(taskId);
      }
    } catch (error) {
      storage.delete(taskId);
      if (scheduled) await this.schedulers.uploadFailed(ids, errorMessage(error)).catch(() => {});
      throw error;
    }
    log.info("Imported persistent cache task", { taskId, path: request.path, contentLength, durationMs: Date.now() - started });
    if (!scheduled) {
      return localTaskMessage(stored, { persistentReplicaCount: request.persistentReplicaCount, tag: request.tag, application: request.application });
    }
    return await this.schedulers.uploadFinished(ids);
  }

  /** Streams a download: one `started` event, then one `piece` event per piece, local or fetched. */
  async *download(request: PersistentCacheDownloadRequest, signal: AbortSignal): AsyncGenerator<PersistentCacheEvent> {
    const { storage } = this.deps;
    const stored = this.local(request.taskId);
    let job = this.jobs.get(request.taskId);
    const local = !job && stored?.record.state === "succeeded";
    if (local && request.persistent && !stored!.record.persistent) storage.update(stored!, { persistent: true });
    if (!local && !job) job = this.startJob(request);
    const task = job ? await job.ready : stored!;
    const peerId = job?.peerId ?? this.newPeerId();
    const pieces = piecesOf(task.record.contentLength, task.record.pieceLength);
    const alreadyThere = new Set(task.pieces.keys());
    yield { kind: "started", taskId: request.taskId, peerId, contentLength: task.record.contentLength, pieces };
    const sent = new Set<number>();
    while (true) {
      for (const piece of pieces) {
        if (sent.has(piece.number)) continue;
        const record = task.pieces.get(piece.number);
        if (!record) continue;
        sent.add(piece.number);
        yield { kind: "piece", taskId: request.taskId, peerId, piece: record, trafficType: alreadyThere.has(piece.number) ? 2 : record.trafficType };
      }
      if (sent.size === pieces.length) break;
      if (job?.failure !== undefined) throw job.failure;
      if (storage.get(request.taskId) !== task) throw new NotFound(`Persistent cache task "${request.taskId}" was deleted`);
      signal.throwIfAborted();
      await storage.waitForChange(request.taskId, signal);
    }
    if (job) await job.done;
  }

  private startJob(request: PersistentCacheDownloadRequest): Job {
    const { storage, log, metrics } = this.deps;
    if (!this.schedulers.configured) {
      throw new FailedPrecondition(`Cannot download persistent cache task "${request.taskId}": no scheduler is configured`);
    }
    const signals = [this.stopping.signal];
    if (request.timeoutMs) signals.push(AbortSignal.timeout(request.timeoutMs));
    const signal = AbortSignal.any(signals);
    let resolveReady!: (task: StoredTask) => void;
    let rejectReady!: (error: unknown) => void;
    const ready = new Promise<StoredTask>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    ready.catch(() => {});
    const job: Job = { peerId: this.newPeerId(), ready, done: Promise.resolve() };
    this.jobs.set(request.taskId, job);
    metrics.activeTasks.inc();
    const started = Date.now();
    job.done = runPersistentCacheDownload(
      {
        storage,
        schedulers: this.schedulers,
        transport: this.deps.transport,
        dial: this.deps.dial,
        hostId: this.deps.identity.hostId,
        settings: this.deps.settings,
        metrics,
        log,
      },
      { taskId: request.taskId, peerId: job.peerId, persistent: request.persistent, tag: request.tag, application: request.application },
      signal,
      resolveReady,
    )
      .then(() => {
        metrics.downloadTasks.inc({ result: "succeeded" });
        const task = storage.get(request.taskId);
        log.info("Persistent cache task downloaded", {
          taskId: request.taskId,
          persistent: request.persistent,
          contentLength: task?.record.contentLength,
          durationMs: Date.now() - started,
        });
      })
      .catch((error) => {
        job.failure =
          signal.aborted && !(error instanceof ConnectError)
            ? new TransferError(`Download of persistent cache task "${request.taskId}" was aborted: ${errorMessage(signal.reason ?? error)}`)
            : error;
        rejectReady(job.failure);
        storage.fail(request.taskId);
        metrics.downloadTasks.inc({ result: "failed" });
        log.warn("Persistent cache download failed", { taskId: request.taskId, error: errorMessage(job.failure) });
        throw job.failure;
      })
      .finally(() => {
        this.jobs.delete(request.taskId);
        metrics.activeTasks.dec();
      });
    job.done.catch(() => {});
    return job;
  }

  /** The task as the cluster sees it (from its scheduler); this host's view when no scheduler answers. */
  async stat(taskId: string): Promise<PersistentCacheTask> {
    const stored = this.local(taskId);
    if (this.schedulers.configured) {
      try {
        return await this.schedulers.statTask(this.deps.identity.hostId, taskId);
      } catch (error) {
        if (isNotFound(error) || !stored) throw error;
        this.deps.log.warn("Cannot stat a persistent cache task on the scheduler", { taskId, error: errorMessage(error) });
      }
    }
    if (!stored) throw new NotFound(`Persistent cache task "${taskId}" not found`);
    return localTaskMessage(stored);
  }

  /** This host's copy, or NotFound. */
  statLocal(taskId: string): PersistentCacheTask {
    const stored = this.local(taskId);
    if (!stored) throw new NotFound(`Persistent cache task "${taskId}" not found`);
    return localTaskMessage(stored);
  }

  /** Marks this host's copy persistent or not (the scheduler promotes exported copies to replicas). */
  setPersistent(taskId: string, persistent: boolean): void {
    const stored = this.local(taskId);
    if (!stored) throw new NotFound(`Persistent cache task "${taskId}" not found`);
    this.deps.storage.update(stored, { persistent });
  }

  /** Removes this host's copy; true if there was one. */
  deleteLocal(taskId: string): boolean {
    return this.local(taskId) !== undefined && this.deps.storage.delete(taskId);
  }

  /** Whether a task ID names a persistent cache task, here or on the scheduler. */
  async owns(taskId: string): Promise<boolean> {
    if (this.local(taskId)) return true;
    if (this.deps.storage.get(taskId) || !this.schedulers.configured) return false;
    try {
      await this.schedulers.statTask(this.deps.identity.hostId, taskId);
      return true;
    } catch {
      return false;
    }
  }

  /** Removes a task from every host that holds it (through its scheduler) and from here. */
  async deleteEverywhere(taskId: string): Promise<void> {
    let known = this.deleteLocal(taskId);
    if (this.schedulers.configured) {
      try {
        await this.schedulers.deleteTask(this.deps.identity.hostId, taskId);
        known = true;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    if (!known) throw new NotFound(`Persistent cache task "${taskId}" not found`);
  }

  /** Aborts downloads and closes scheduler connections. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.jobs.values()].map((job) => job.done));
    this.schedulers.close();
  }
}
