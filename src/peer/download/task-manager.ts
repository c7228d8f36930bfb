/**
 * Downloads of tasks. One background job per task does the work (stat, scheduler, parents, source) and
 * writes pieces to storage; every request for the task, concurrent or later, watches storage and streams
 * the pieces it is interested in. A finished task is served from disk without contacting anyone.
 */
import { create } from "@bufbuild/protobuf";
import type { Download, Peer } from "../../gen/common/v2/common_pb.ts";
import { DownloadSchema, TrafficType } from "../../gen/common/v2/common_pb.ts";
import {
  FailedPrecondition,
  InvalidArgument,
  SourceError,
  StorageError,
  TaskNotFound,
  TransferError,
  errorMessage,
} from "../../common/errors.ts";
import { taskId as computeTaskId } from "../../common/ids.ts";
import { peerId as newPeerId } from "../../common/ids.ts";
import type { Logger } from "../../common/log.ts";
import { MIN_PIECE_LENGTH, pieceLength, piecesOf, type PieceGeometry } from "../../common/piece.ts";
import type { PieceTransport } from "../transport/transport.ts";
import type { PeerMetrics } from "../metrics.ts";
import { TRAFFIC_LABEL } from "../metrics.ts";
import { sourceOptionsOf, type SourceRegistry } from "../source/source.ts";
import type { PieceRecord } from "../storage/metadata.ts";
import type { Storage, StoredTask } from "../storage/storage.ts";
import { startParentRound, type ParentRound, type UploadDialer } from "./parent-fetcher.ts";
import { toPieceMessage } from "./pieces.ts";
import type { PeerAnnouncement, SchedulerClient } from "./scheduler-client.ts";
import { fetchPiecesFromSource } from "./source-fetcher.ts";

/** Settings of the task manager (from dfdaemon's config). */
export interface TaskManagerSettings {
  concurrentPieceCount: number;
  pieceTimeoutMs: number;
  collectedPieceTimeoutMs: number;
  scheduleTimeoutMs: number;
  maxScheduleCount: number;
  disableBackToSource: boolean;
}

/** What the task manager depends on. */
export interface TaskManagerDeps {
  storage: Storage;
  sources: SourceRegistry;
  schedulers: SchedulerClient;
  transport: PieceTransport;
  dial: UploadDialer;
  identity: { ip: string; hostname: string; seed: boolean; hostId: string };
  settings: TaskManagerSettings;
  metrics: PeerMetrics;
  log: Logger;
  /** Told of each piece fetched from the source, once stored (the transport compresses it ahead of requests). */
  onSourcePiece?(piece: PieceRecord): void;
}

/** Events a download request receives. */
export type DownloadEvent =
  | {
      kind: "started";
      taskId: string;
      peerId: string;
      contentLength: number;
      pieceLength: number;
      responseHeader: Record<string, string>;
      pieces: PieceGeometry[];
      isFinished: boolean;
    }
  | { kind: "piece"; taskId: string; peerId: string; piece: PieceRecord; trafficType: number };

interface Job {
  taskId: string;
  peerId: string;
  download: Download;
  ready: Promise<StoredTask>;
  done: Promise<void>;
  failure?: unknown;
  controller: AbortController;
  /** When the scheduler's first decision arrived (ms since epoch). */
  firstDecisionAt?: number;
}

const SMALL_TASK_LENGTH = MIN_PIECE_LENGTH;

/** The revision part of a task ID, for hub sources. */
function revisionOf(download: Download): string | undefined {
  return download.huggingFace?.revision || download.modelScope?.revision || undefined;
}

/** The task ID of a download request. */
export function taskIdOf(download: Download): string {
  return computeTaskId({
    url: download.url,
    tag: download.tag,
    application: download.application,
    revision: revisionOf(download),
    pieceLength: download.pieceLength === undefined ? undefined : Number(download.pieceLength),
    filteredQueryParams: download.filteredQueryParams,
    contentForCalculatingTaskId: download.contentForCalculatingTaskId,
    enableTaskIdBasedBlobDigest: download.enableTaskIdBasedBlobDigest,
  });
}

/** Validates a download request; throws InvalidArgument naming the field. */
export function validateDownload(download: Download): void {
  if (!download.url) throw new InvalidArgument('Invalid download: field "url" is required');
  try {
    new URL(download.url);
  } catch {
    throw new InvalidArgument(`Invalid download: field "url" is not a URL: "${download.url}"`);
  }
  if (download.pieceLength !== undefined && download.pieceLength < BigInt(MIN_PIECE_LENGTH)) {
    throw new InvalidArgument(
      `Invalid download: field "piece_length" must be at least ${MIN_PIECE_LENGTH} bytes, got ${download.pieceLength}`,
    );
  }
  if (download.outputPath !== undefined && download.outputPath !== "" && !download.outputPath.startsWith("/")) {
    throw new InvalidArgument(`Invalid download: field "output_path" must be absolute, got "${download.outputPath}"`);
  }
}

/** Runs and serves downloads. */
export class TaskManager {
  private readonly jobs = new Map<string, Job>();
  private readonly stopping = new AbortController();

  constructor(private readonly deps: TaskManagerDeps) {}

  /** IDs of tasks downloading now. */
  activeTaskIds(): Set<string> {
    return new Set(this.jobs.keys());
  }

  /** Aborts every job. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.jobs.values()].map((job) => job.done));
  }

  /** Streams a download: one `started` event, then one `piece` event per interested piece. */
  async *download(download: Download, signal?: AbortSignal): AsyncGenerator<DownloadEvent> {
    validateDownload(download);
    const taskId = taskIdOf(download);
    const stored = this.deps.storage.get(taskId);
    let job = this.jobs.get(taskId);
    const local = !job && stored?.record.state === "succeeded";
    if (!local && !job) job = this.startJob(taskId, download);
    const task = job ? await job.ready : stored!;
    const range = download.range ? { start: Number(download.range.start), length: Number(download.range.length) } : undefined;
    const interested = piecesOf(task.record.contentLength, task.record.pieceLength, range);
    const peerId = job?.peerId ?? newPeerId(this.deps.identity.ip, this.deps.identity.hostname, this.deps.identity.seed);
    const alreadyThere = new Set(task.pieces.keys());
    yield {
      kind: "started",
      taskId,
      peerId,
      contentLength: task.record.contentLength,
      pieceLength: task.record.pieceLength,
      responseHeader: task.record.responseHeader,
      pieces: interested,
      isFinished: local,
    };
    const sent = new Set<number>();
    while (true) {
      for (const piece of interested) {
        if (sent.has(piece.number)) continue;
        const record = task.pieces.get(piece.number);
        if (!record) continue;
        sent.add(piece.number);
        const trafficType = alreadyThere.has(piece.number) ? 2 : record.trafficType;
        if (trafficType === 2) {
          this.deps.metrics.downloadTrafficBytes.inc({ type: TRAFFIC_LABEL[2] }, record.length);
          this.deps.metrics.downloadPieces.inc({ type: TRAFFIC_LABEL[2] });
        }
        yield { kind: "piece", taskId, peerId, piece: record, trafficType };
      }
      if (sent.size === interested.length) break;
      if (job?.failure !== undefined) throw job.failure;
      if (this.deps.storage.get(taskId) !== task) throw new TaskNotFound(taskId);
      signal?.throwIfAborted();
      await this.deps.storage.waitForChange(taskId, signal);
    }
    if (job) await job.done;
    if (local) {
      // A local hit never reaches the scheduler otherwise: report it (in the background) so the cluster's
      // traffic counts the bytes served from this host's own storage, and the scheduler knows the copy.
      const pieces = interested.flatMap((piece) => task.pieces.get(piece.number) ?? []);
      this.announceFinished(download, undefined, pieces).catch((error) =>
        this.deps.log.debug("Cannot report a local hit to the scheduler", { taskId, error: errorMessage(error) }),
      );
    }
  }

  private startJob(taskId: string, download: Download): Job {
    const { identity } = this.deps;
    const controller = new AbortController();
    const signals = [controller.signal, this.stopping.signal];
    if (download.timeout) {
      signals.push(AbortSignal.timeout(Number(download.timeout.seconds) * 1000 + download.timeout.nanos / 1e6));
    }
    const signal = AbortSignal.any(signals);
    let resolveReady!: (task: StoredTask) => void;
    let rejectReady!: (error: unknown) => void;
    const ready = new Promise<StoredTask>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    ready.catch(() => {});
    const job: Job = {
      taskId,
      peerId: newPeerId(identity.ip, identity.hostname, identity.seed),
      download: create(DownloadSchema, download),
      ready,
      done: Promise.resolve(),
      controller,
    };
    this.jobs.set(taskId, job);
    this.deps.metrics.activeTasks.inc();
    job.done = this.run(job, signal, resolveReady)
      .catch((error) => {
        job.failure = signal.aborted && !(error instanceof SourceError) ? new TransferError(`Download of task "${taskId}" was aborted: ${errorMessage(signal.reason ?? error)}`) : error;
        rejectReady(job.failure);
        this.deps.storage.fail(taskId);
        this.deps.metrics.downloadTasks.inc({ result: "failed" });
        this.deps.log.warn("Task failed", { taskId, error: errorMessage(job.failure) });
        throw job.failure;
      })
      .finally(() => {
        this.jobs.delete(taskId);
        this.deps.metrics.activeTasks.dec();
        controller.abort();
      });
    job.done.catch(() => {});
    return job;
  }

  private async run(job: Job, signal: AbortSignal, ready: (task: StoredTask) => void): Promise<void> {
    const { storage, sources, settings, log } = this.deps;
    const d = job.download;
    const source = sources.for(d.url);
    const started = Date.now();
    const stat = await source.stat({ url: d.url, header: d.requestHeader, signal, ...sourceOptionsOf(d) });
    const statMs = Date.now() - started;
    const length = pieceLength(stat.contentLength, d.pieceLength === undefined ? undefined : Number(d.pieceLength));
    const task = storage.create({
      id: job.taskId,
      url: d.url,
      pieceLength: length,
      contentLength: stat.contentLength,
      responseHeader: stat.header,
    });
    ready(task);
    d.actualContentLength = BigInt(stat.contentLength);
    d.actualPieceLength = BigInt(length);
    d.actualPieceCount = BigInt(Math.ceil(stat.contentLength / length));
    const missing = () => piecesOf(task.record.contentLength, task.record.pieceLength).filter((p) => !task.pieces.has(p.number));
    const disableBackToSource = d.disableBackToSource || settings.disableBackToSource;
    const small = stat.contentLength <= SMALL_TASK_LENGTH;
    if (missing().length > 0 && this.deps.schedulers.configured && !(small && !disableBackToSource)) {
      try {
        await this.withScheduler(job, task, missing, disableBackToSource, signal);
      } catch (error) {
        if (error instanceof SourceError || error instanceof StorageError || signal.aborted) throw error;
        log.warn("Scheduling failed; continuing without the scheduler", { taskId: job.taskId, error: errorMessage(error) });
      }
    }
    const rest = missing();
    if (rest.length > 0) {
      if (disableBackToSource) {
        throw new FailedPrecondition(
          `Cannot download task "${job.taskId}": ${rest.length} pieces are missing and back-to-source is disabled`,
        );
      }
      await fetchPiecesFromSource({
        storage,
        source,
        taskId: job.taskId,
        url: d.url,
        header: d.requestHeader,
        backend: sourceOptionsOf(d),
        pieces: rest,
        concurrency: settings.concurrentPieceCount,
        signal,
        onPiece: (piece) => this.count(piece),
      }, piecesOf(task.record.contentLength, task.record.pieceLength));
    }
    storage.succeed(job.taskId);
    this.deps.metrics.downloadTasks.inc({ result: "succeeded" });
    log.info("Task finished", {
      taskId: job.taskId,
      contentLength: task.record.contentLength,
      durationMs: Date.now() - started,
      statMs,
      firstDecisionMs: job.firstDecisionAt ? job.firstDecisionAt - started : undefined,
    });
  }

  private count(piece: PieceRecord): void {
    const label = TRAFFIC_LABEL[piece.trafficType] ?? "remote_peer";
    this.deps.metrics.downloadTrafficBytes.inc({ type: label }, piece.length);
    this.deps.metrics.downloadPieces.inc({ type: label });
  }

  /** Downloads through the scheduler: register, then follow its responses until done or it gives up. */
  private async withScheduler(
    job: Job,
    task: StoredTask,
    missing: () => PieceGeometry[],
    disableBackToSource: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const { schedulers, settings, metrics, log, identity } = this.deps;
    const address = schedulers.pick(job.taskId);
    if (!address) return;
    const announcement = schedulers.announcePeer(address, { hostId: identity.hostId, taskId: job.taskId, peerId: job.peerId }, signal);
    try {
      announcement.send({ case: "registerPeerRequest", value: { download: job.download } });
      let started = false;
      let count = 0;
      while (true) {
        const next = await this.nextResponse(announcement, settings.scheduleTimeoutMs, signal);
        if (next === undefined) throw new TransferError(`Scheduler "${address}" closed the announce stream`);
        count++;
        job.firstDecisionAt ??= Date.now();
        const response = next.response;
        metrics.schedulerResponses.inc({ type: response.case ?? "unknown" });
        if (count > settings.maxScheduleCount) {
          announcement.send({ case: "downloadPeerFailedRequest", value: { description: "max schedule count exceeded" } });
          throw new TransferError(`Scheduler "${address}" exceeded ${settings.maxScheduleCount} schedules`);
        }
        switch (response.case) {
          case "emptyTaskResponse":
            announcement.send({ case: "downloadPeerStartedRequest", value: {} });
            announcement.send({ case: "downloadPeerFinishedRequest", value: {} });
            return;
          case "normalTaskResponse": {
            if (!started) {
              announcement.send({ case: "downloadPeerStartedRequest", value: {} });
              started = true;
            }
            const parents = [...response.value.candidateParents];
            const round = this.fromParents(job, parents, missing(), announcement, signal);
            // Parents the scheduler sends while the round runs join it (e.g. peers that got pieces since).
            const pending = this.pumpParents(announcement, round, parents);
            const result = await round.result;
            pending.stop();
            if (result.complete) {
              announcement.send({ case: "downloadPeerFinishedRequest", value: {} });
              return;
            }
            log.info("Asking for new parents", { taskId: job.taskId, reason: result.reason });
            announcement.send({
              case: "reschedulePeerRequest",
              value: { candidateParents: parents, description: result.reason },
            });
            break;
          }
          case "needBackToSourceResponse": {
            if (disableBackToSource) {
              announcement.send({ case: "downloadPeerFailedRequest", value: { description: "back-to-source is disabled" } });
              throw new FailedPrecondition(
                `Cannot download task "${job.taskId}": the scheduler sent it back to source and back-to-source is disabled`,
              );
            }
            announcement.send({ case: "downloadPeerBackToSourceStartedRequest", value: { description: response.value.description } });
            try {
              await this.fromSource(job, missing(), announcement, signal);
            } catch (error) {
              announcement.send({ case: "downloadPeerBackToSourceFailedRequest", value: { description: errorMessage(error) } });
              throw error;
            }
            announcement.send({ case: "downloadPeerBackToSourceFinishedRequest", value: {} });
            return;
          }
          case "metadataOnlyResponse":
            throw new TransferError(`Scheduler "${address}" answered metadata-only to a download`);
          default:
            throw new TransferError(`Scheduler "${address}" sent an empty response`);
        }
      }
    } catch (error) {
      if (!(error instanceof SourceError) && !(error instanceof FailedPrecondition) && !signal.aborted) {
        schedulers.markUnhealthy(address);
      }
      throw error;
    } finally {
      // Close now: the request side ends after the queued messages, and the stream is detached from the job's
      // signal, which aborts the moment the job ends and would otherwise drop the last piece and finished reports.
      announcement.close();
      void task;
    }
  }

  /**
   * While a round runs, reads further responses: NormalTaskResponses add parents to the round; anything else is
   * kept for the main loop.
   */
  private pumpParents(announcement: PeerAnnouncement, round: ParentRound, parents: Peer[]) {
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        const next = announcement.pending ?? (announcement.pending = announcement.responses.next());
        const result = await Promise.race([next, round.result.then(() => undefined)]);
        if (result === undefined || stopped) return;
        announcement.pending = undefined;
        if (result.done) {
          announcement.ended = true;
          return;
        }
        if (result.value.response.case === "normalTaskResponse") {
          this.deps.metrics.schedulerResponses.inc({ type: "normalTaskResponse" });
          const more = result.value.response.value.candidateParents;
          parents.push(...more.filter((p) => !parents.some((q) => q.id === p.id)));
          round.addParents(more);
        } else {
          announcement.held = result.value;
          return;
        }
      }
    };
    void loop();
    return { stop: () => void (stopped = true) };
  }

  private async nextResponse(announcement: PeerAnnouncement, timeoutMs: number, signal: AbortSignal) {
    if (announcement.held) {
      const held = announcement.held;
      announcement.held = undefined;
      return held;
    }
    if (announcement.ended) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const pending = announcement.pending ?? announcement.responses.next();
      announcement.pending = undefined;
      const result = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TransferError(`No scheduling decision within ${timeoutMs} ms`)), timeoutMs);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      ]);
      return result.done ? undefined : result.value;
    } finally {
      clearTimeout(timer);
    }
  }

  private fromParents(job: Job, parents: Peer[], pieces: PieceGeometry[], announcement: PeerAnnouncement, signal: AbortSignal) {
    const { settings } = this.deps;
    return startParentRound({
      storage: this.deps.storage,
      transport: this.deps.transport,
      dial: this.deps.dial,
      hostId: this.deps.identity.hostId,
      taskId: job.taskId,
      parents,
      pieces,
      concurrency: settings.concurrentPieceCount,
      pieceTimeoutMs: settings.pieceTimeoutMs,
      stallTimeoutMs: settings.collectedPieceTimeoutMs,
      signal,
      log: this.deps.log,
      onPiece: (piece) => {
        this.count(piece);
        announcement.send({ case: "downloadPieceFinishedRequest", value: { piece: toPieceMessage(piece) } });
      },
      onPieceError: (reason) => this.deps.metrics.pieceFailures.inc({ reason }),
      onPieceFailed: (number, parentId) => {
        announcement.send({
          case: "downloadPieceFailedRequest",
          value: { pieceNumber: number, parentId, temporary: true },
        });
      },
    });
  }

  private fromSource(job: Job, pieces: PieceGeometry[], announcement: PeerAnnouncement, signal: AbortSignal) {
    const d = job.download;
    const task = this.deps.storage.require(job.taskId);
    return fetchPiecesFromSource({
      storage: this.deps.storage,
      source: this.deps.sources.for(d.url),
      taskId: job.taskId,
      url: d.url,
      header: d.requestHeader,
      backend: sourceOptionsOf(d),
      pieces,
      concurrency: this.deps.settings.concurrentPieceCount,
      signal,
      onPiece: (piece) => {
        this.count(piece);
        announcement.send({ case: "downloadPieceBackToSourceFinishedRequest", value: { piece: toPieceMessage(piece) } });
        this.deps.onSourcePiece?.(piece);
      },
      onPieceFailed: (number, error) => {
        const status = error instanceof SourceError ? error.statusCode : undefined;
        announcement.send({
          case: "downloadPieceBackToSourceFailedRequest",
          value: {
            pieceNumber: number,
            response:
              error instanceof SourceError
                ? { case: "backend", value: { message: error.message, header: error.header, statusCode: status } }
                : { case: "unknown", value: { message: errorMessage(error) } },
          },
        });
      },
    }, piecesOf(task.record.contentLength, task.record.pieceLength));
  }

  /**
   * Tells the scheduler that this peer holds a finished task (a metadata-only register), so that it can
   * be chosen as a parent; used when a scheduler triggers a download of a task already stored here.
   */
  async announceFinished(download: Download, signal?: AbortSignal, localPieces: readonly PieceRecord[] = []): Promise<void> {
    const { schedulers, identity } = this.deps;
    const taskId = taskIdOf(download);
    const address = schedulers.pick(taskId);
    if (!address) return;
    const peerId = newPeerId(identity.ip, identity.hostname, identity.seed);
    const announcement = schedulers.announcePeer(address, { hostId: identity.hostId, taskId, peerId }, signal);
    try {
      const task = this.deps.storage.require(taskId);
      const metadata = create(DownloadSchema, {
        ...download,
        metadataOnly: true,
        needBackToSource: false,
        actualContentLength: BigInt(task.record.contentLength),
        actualPieceLength: BigInt(task.record.pieceLength),
        actualPieceCount: BigInt(task.pieces.size),
      });
      announcement.send({ case: "registerPeerRequest", value: { download: metadata } });
      const next = await this.nextResponse(announcement, 10_000, signal ?? new AbortController().signal);
      if (next?.response.case !== "metadataOnlyResponse") {
        throw new TransferError(`Scheduler "${address}" did not accept the metadata-only register`);
      }
      announcement.send({ case: "downloadPeerStartedRequest", value: {} });
      for (const record of localPieces) {
        // Served from this host's storage: local traffic, with no parent to credit.
        const piece = toPieceMessage(record, TrafficType.LOCAL_PEER);
        piece.parentId = undefined;
        announcement.send({ case: "downloadPieceFinishedRequest", value: { piece } });
      }
      announcement.send({ case: "downloadPeerFinishedRequest", value: {} });
    } finally {
      // Close now: the request side ends after the queued messages and no longer follows the caller's signal.
      announcement.close();
    }
  }
}
