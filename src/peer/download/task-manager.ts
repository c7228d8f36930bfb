/**
 * Downloads of tasks. One background job per task does the work (stat, scheduler, parents, source) and
 * writes pieces to storage; every request for the task, concurrent or later, watches storage and streams
 * the pieces it is interested in. A finished task is served from disk without contacting anyone.
 *
 * A job fetches what its requests want: the pieces of a range, or the whole task. Wants can grow while the
 * job runs (another range, a full download, a prefetch); each batch of newly wanted pieces is fetched by a
 * pass of its own (a scheduler registration, or the source), and no piece is fetched by two passes. A job
 * that did not need every piece leaves the task partial: its pieces are served to other peers, and a later
 * download fetches only what is missing.
 */
import { create } from "@bufbuild/protobuf";
import type { Download, Peer } from "../../gen/common/v2/common_pb.ts";
import { DownloadSchema, RangeSchema, TrafficType } from "../../gen/common/v2/common_pb.ts";
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
import type { RateLimiter } from "../../common/rate-limiter.ts";
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
  /** Charged each piece's length before it is fetched from the source (download.bandwidthLimit); parents are
   * limited by the transport the daemon passes in. */
  downloadLimiter?: RateLimiter;
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

/** A byte range of a task's content. */
export interface ByteRange {
  start: number;
  length: number;
}

/** Options of one download request. */
export interface DownloadRequestOptions {
  /**
   * The request's byte range, resolved once the content length is known (the proxy parses a Range header this
   * way): a range, undefined for the whole task, or null for no bytes at all. Replaces `download.range`.
   */
  range?: (contentLength: number) => ByteRange | null | undefined;
}

/** What one request needs of a task, once its geometry is known. */
interface Need {
  /** The whole task (no range). */
  whole: boolean;
  /** The request's range, when it has one. */
  range?: ByteRange;
  /** The pieces the request streams. */
  pieces: PieceGeometry[];
  /** Fetch the whole task in the background as well (a ranged request with prefetch). */
  prefetch: boolean;
}

/** What a job's requests asked for and no pass has taken yet. */
interface Wants {
  ranges: ByteRange[];
  all: boolean;
  /** Only prefetches asked for the whole task. */
  allByPrefetch: boolean;
}

/** A batch of pieces fetched together: one scheduler registration, or straight from the source. */
interface Pass {
  pieces: PieceGeometry[];
  /** The byte span the pass covers; undefined when it completes the whole task. */
  range?: ByteRange;
  isPrefetch: boolean;
}

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
  /** What the request that started the job needs, once the task's geometry is known. */
  initial: (task: StoredTask) => Need;
  wants: Wants;
  /** Wakes the job when wants grow or a pass ends. */
  wake?: () => void;
  /** The job found nothing more to fetch and is ending: later wants need a new job. */
  closing: boolean;
  ended: boolean;
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
  if (download.range && download.range.length === 0n) {
    throw new InvalidArgument('Invalid download: field "range.length" must be positive');
  }
}

/** The byte range a request asks for within `contentLength` bytes (see DownloadRequestOptions.range). */
function requestRange(download: Download, options: DownloadRequestOptions, contentLength: number): ByteRange | null | undefined {
  if (options.range) return options.range(contentLength);
  if (!download.range) return undefined;
  const start = Number(download.range.start);
  if (contentLength === 0) return null;
  if (start >= contentLength) {
    throw new InvalidArgument(`Invalid download: field "range.start" is ${start}, beyond the content (${contentLength} bytes)`);
  }
  return { start, length: Math.min(Number(download.range.length), contentLength - start) };
}

/** What a request needs of a task with known geometry. */
function needOf(download: Download, options: DownloadRequestOptions, task: StoredTask): Need {
  const { contentLength, pieceLength: length } = task.record;
  const range = requestRange(download, options, contentLength);
  if (range === undefined) return { whole: true, pieces: piecesOf(contentLength, length), prefetch: false };
  if (range === null || range.length <= 0) return { whole: false, pieces: [], prefetch: false };
  return { whole: false, range, pieces: piecesOf(contentLength, length, range), prefetch: download.prefetch };
}

/** The smallest range holding every one of `ranges`. */
function span(ranges: ByteRange[]): ByteRange {
  const start = Math.min(...ranges.map((r) => r.start));
  const end = Math.max(...ranges.map((r) => r.start + r.length));
  return { start, length: end - start };
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

  /**
   * Streams a download: one `started` event, then one `piece` event per interested piece. A ranged request
   * (`download.range`, or `options.range`) has only the pieces of its range fetched; with `download.prefetch`
   * the rest of the task follows in the background.
   */
  async *download(download: Download, signal?: AbortSignal, options: DownloadRequestOptions = {}): AsyncGenerator<DownloadEvent> {
    validateDownload(download);
    const taskId = taskIdOf(download);
    const { storage } = this.deps;
    const stored = storage.get(taskId);
    let job = this.jobs.get(taskId);
    let task: StoredTask | undefined;
    let need: Need | undefined;
    let local = false;
    if (!job && stored?.record.state === "succeeded") {
      task = stored;
      local = true;
    } else if (!job && stored) {
      // A partial task serves a range it already holds without a job.
      const stillNeeded = needOf(download, options, stored);
      if (!stillNeeded.whole && stillNeeded.pieces.every((p) => stored.pieces.has(p.number))) {
        task = stored;
        need = stillNeeded;
      }
    }
    let joined = false;
    if (!task) {
      if (!job) {
        job = this.startJob(taskId, download, (t) => needOf(download, options, t));
        joined = true;
      }
      task = await job.ready;
    }
    const current = task;
    need ??= needOf(download, options, current);
    const interested = need.pieces;
    // Joining a running job adds this request's wants; a job already ending is followed by a new one below.
    if (job && !joined) joined = this.want(job, need);
    if (!job && need.prefetch && current.record.state !== "succeeded") {
      job = this.startJob(taskId, download, () => ({ whole: false, pieces: [], prefetch: true }));
      joined = true;
    }
    const peerId = job?.peerId ?? newPeerId(this.deps.identity.ip, this.deps.identity.hostname, this.deps.identity.seed);
    const alreadyThere = new Set(current.pieces.keys());
    yield {
      kind: "started",
      taskId,
      peerId,
      contentLength: current.record.contentLength,
      pieceLength: current.record.pieceLength,
      responseHeader: current.record.responseHeader,
      pieces: interested,
      isFinished: local,
    };
    const sent = new Set<number>();
    while (true) {
      for (const piece of interested) {
        if (sent.has(piece.number)) continue;
        const record = current.pieces.get(piece.number);
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
      if (storage.get(taskId) !== current) throw new TaskNotFound(taskId);
      if (!job || job.ended) {
        // The job ended without every piece this request needs (it joined too late): a new job fetches the rest.
        const pending = need;
        const next = this.jobs.get(taskId);
        job = next ?? this.startJob(taskId, download, () => pending);
        joined = next ? this.want(next, need) : true;
        continue;
      }
      signal?.throwIfAborted();
      const ended = job.done.then(
        () => {},
        () => {},
      );
      await Promise.race([storage.waitForChange(taskId, signal), ended]);
    }
    if (job && need.whole) await job.done;
    if (job && need.prefetch && !joined) this.prefetchAfter(job, download);
    if (local) {
      // A local hit never reaches the scheduler otherwise: report it (in the background) so the cluster's
      // traffic counts the bytes served from this host's own storage, and the scheduler knows the copy.
      const pieces = interested.flatMap((piece) => current.pieces.get(piece.number) ?? []);
      this.announceFinished(download, undefined, pieces).catch((error) =>
        this.deps.log.debug("Cannot report a local hit to the scheduler", { taskId, error: errorMessage(error) }),
      );
    }
  }

  /** Starts a prefetch of the whole task once `job` (which ended too soon to take it) is over. */
  private prefetchAfter(job: Job, download: Download): void {
    void job.done
      .catch(() => {})
      .then(() => {
        const stored = this.deps.storage.get(job.taskId);
        if (this.stopping.signal.aborted || !stored || stored.record.state === "succeeded") return;
        const prefetch: Need = { whole: false, pieces: [], prefetch: true };
        const next = this.jobs.get(job.taskId);
        if (!next) this.startJob(job.taskId, download, () => prefetch);
        else if (!this.want(next, prefetch)) this.prefetchAfter(next, download);
      });
  }

  /** Adds a request's needs to a job's wants; false when the job is already ending and cannot take them. */
  private want(job: Job, need: Need): boolean {
    const task = this.deps.storage.get(job.taskId);
    const missing = need.pieces.some((p) => !task?.pieces.has(p.number));
    if (job.closing) return !missing && !need.prefetch;
    const { wants } = job;
    if (need.range && missing) wants.ranges.push(need.range);
    if (need.whole || need.prefetch) {
      wants.allByPrefetch = wants.all ? wants.allByPrefetch && !need.whole : !need.whole;
      wants.all = true;
    }
    job.wake?.();
    return true;
  }

  private startJob(taskId: string, download: Download, initial: (task: StoredTask) => Need): Job {
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
      download: create(DownloadSchema, { ...download, range: undefined, prefetch: false }),
      ready,
      done: Promise.resolve(),
      controller,
      initial,
      wants: { ranges: [], all: false, allByPrefetch: false },
      closing: false,
      ended: false,
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
        job.ended = true;
        this.jobs.delete(taskId);
        this.deps.metrics.activeTasks.dec();
        controller.abort();
      });
    job.done.catch(() => {});
    return job;
  }

  private async run(job: Job, signal: AbortSignal, ready: (task: StoredTask) => void): Promise<void> {
    const { storage, sources, log, identity } = this.deps;
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
    try {
      this.want(job, job.initial(task));
    } catch {
      // A request with a bad range gets the error itself; the job has nothing to fetch for it.
    }

    // Passes run side by side as wants grow; a piece belongs to one pass at a time.
    const inFlight = new Set<number>();
    const active = new Set<Promise<void>>();
    const passes = new AbortController();
    const passSignal = AbortSignal.any([signal, passes.signal]);
    let failure: { error: unknown } | undefined;
    let count = 0;
    while (!failure) {
      for (let pass = this.nextPass(job, task, inFlight); pass; pass = this.nextPass(job, task, inFlight)) {
        const { pieces } = pass;
        for (const piece of pieces) inFlight.add(piece.number);
        const peerId = count++ === 0 ? job.peerId : newPeerId(identity.ip, identity.hostname, identity.seed);
        const running: Promise<void> = this.runPass(job, task, pass, peerId, passSignal)
          .catch((error) => {
            failure ??= { error };
            passes.abort(error);
          })
          .finally(() => {
            for (const piece of pieces) inFlight.delete(piece.number);
            active.delete(running);
            job.wake?.();
          });
        active.add(running);
      }
      if (active.size === 0) {
        job.closing = true;
        break;
      }
      await new Promise<void>((resolve) => (job.wake = resolve));
      job.wake = undefined;
    }
    await Promise.allSettled([...active]);
    if (failure) throw failure.error;

    const all = piecesOf(task.record.contentLength, task.record.pieceLength);
    if (all.some((p) => !task.pieces.has(p.number))) {
      storage.leavePartial(job.taskId);
      log.info("Task partly downloaded", { taskId: job.taskId, pieces: task.pieces.size, pieceCount: all.length, durationMs: Date.now() - started });
      return;
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

  /** The next batch of wanted pieces that are neither stored nor being fetched: ranges first, then the rest. */
  private nextPass(job: Job, task: StoredTask, inFlight: ReadonlySet<number>): Pass | undefined {
    const { wants } = job;
    const { contentLength, pieceLength: length } = task.record;
    const needed = (p: PieceGeometry) => !task.pieces.has(p.number) && !inFlight.has(p.number);
    while (wants.ranges.length > 0) {
      const ranges = wants.ranges.splice(0);
      const pieces = new Map<number, PieceGeometry>();
      for (const range of ranges) {
        for (const piece of piecesOf(contentLength, length, range)) if (needed(piece)) pieces.set(piece.number, piece);
      }
      if (pieces.size > 0) {
        return { pieces: [...pieces.values()].sort((a, b) => a.number - b.number), range: span(ranges), isPrefetch: false };
      }
    }
    if (!wants.all) return undefined;
    wants.all = false;
    const pieces = piecesOf(contentLength, length).filter(needed);
    return pieces.length > 0 ? { pieces, isPrefetch: wants.allByPrefetch } : undefined;
  }

  /**
   * Fetches one pass's pieces: through the scheduler, unless back-to-source is allowed and the pass is small
   * (its range or the content at most 4 MiB: straight to the source), then whatever is left from the source.
   */
  private async runPass(job: Job, task: StoredTask, pass: Pass, peerId: string, signal: AbortSignal): Promise<void> {
    const { storage, sources, settings, log } = this.deps;
    const d = job.download;
    const missing = () => pass.pieces.filter((p) => !task.pieces.has(p.number));
    const disableBackToSource = d.disableBackToSource || settings.disableBackToSource;
    const small = task.record.contentLength <= SMALL_TASK_LENGTH || (pass.range !== undefined && pass.range.length <= SMALL_TASK_LENGTH);
    if (this.deps.schedulers.configured && !(small && !disableBackToSource)) {
      const registration = create(DownloadSchema, {
        ...d,
        range: pass.range && create(RangeSchema, { start: BigInt(pass.range.start), length: BigInt(pass.range.length) }),
        isPrefetch: pass.isPrefetch,
      });
      try {
        await this.withScheduler(job, peerId, registration, task, missing, disableBackToSource, signal);
      } catch (error) {
        if (error instanceof SourceError || error instanceof StorageError || signal.aborted) throw error;
        log.warn("Scheduling failed; continuing without the scheduler", { taskId: job.taskId, error: errorMessage(error) });
      }
    }
    const rest = missing();
    if (rest.length === 0) return;
    if (disableBackToSource) {
      throw new FailedPrecondition(
        `Cannot download task "${job.taskId}": ${rest.length} pieces are missing and back-to-source is disabled`,
      );
    }
    await fetchPiecesFromSource({
      storage,
      source: sources.for(d.url),
      taskId: job.taskId,
      url: d.url,
      header: d.requestHeader,
      backend: sourceOptionsOf(d),
      pieces: rest,
      concurrency: settings.concurrentPieceCount,
      signal,
      limiter: this.deps.downloadLimiter,
      onPiece: (piece) => this.count(piece),
    }, piecesOf(task.record.contentLength, task.record.pieceLength));
  }

  private count(piece: PieceRecord): void {
    const label = TRAFFIC_LABEL[piece.trafficType] ?? "remote_peer";
    this.deps.metrics.downloadTrafficBytes.inc({ type: label }, piece.length);
    this.deps.metrics.downloadPieces.inc({ type: label });
  }

  /** Downloads through the scheduler: register, then follow its responses until done or it gives up. */
  private async withScheduler(
    job: Job,
    peerId: string,
    download: Download,
    task: StoredTask,
    missing: () => PieceGeometry[],
    disableBackToSource: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const { schedulers, settings, metrics, log, identity } = this.deps;
    const address = schedulers.pick(job.taskId);
    if (!address) return;
    const announcement = schedulers.announcePeer(address, { hostId: identity.hostId, taskId: job.taskId, peerId }, signal);
    try {
      announcement.send({ case: "registerPeerRequest", value: { download } });
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
      limiter: this.deps.downloadLimiter,
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
