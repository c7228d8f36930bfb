/**
 * Downloads a persistent cache task from the peers that hold it: the scheduler names parents (never the origin:
 * such a task has none), pieces move over the piece transport with persistent-cache tags, each checked by CRC.
 */
import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { PeerSchema, type Peer, type PersistentCachePeer } from "../../gen/common/v2/common_pb.ts";
import type { AnnouncePersistentCachePeerResponse } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { TransferError, errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import { piecesOf } from "../../common/piece.ts";
import { startParentRound, type UploadDialer } from "../download/parent-fetcher.ts";
import { toPieceMessage } from "../download/pieces.ts";
import type { PeerMetrics } from "../metrics.ts";
import type { Storage, StoredTask } from "../storage/storage.ts";
import type { PieceTransport } from "../transport/transport.ts";
import type { PersistentCacheAnnouncement, PersistentCacheSchedulerCalls } from "./scheduler-calls.ts";

/** Settings of persistent cache downloads (from dfdaemon's config). */
export interface PersistentCacheDownloadSettings {
  concurrentPieceCount: number;
  pieceTimeoutMs: number;
  collectedPieceTimeoutMs: number;
  scheduleTimeoutMs: number;
  maxScheduleCount: number;
}

/** What a download needs. */
export interface PersistentCacheDownloadDeps {
  storage: Storage;
  schedulers: PersistentCacheSchedulerCalls;
  transport: PieceTransport;
  dial: UploadDialer;
  hostId: string;
  settings: PersistentCacheDownloadSettings;
  metrics: PeerMetrics;
  log: Logger;
}

/** One download of a task by this host. */
export interface PersistentCacheDownload {
  taskId: string;
  peerId: string;
  persistent: boolean;
  tag?: string;
  application?: string;
}

/** The same transport, with persistent-cache piece tags on the wire. */
export function persistentCacheTransport(transport: PieceTransport): PieceTransport {
  return { name: transport.name, download: (options) => transport.download({ ...options, kind: "persistentCache" }) };
}

/** A persistent cache parent in the shape the parent fetcher dials. */
function asParent(parent: PersistentCachePeer): Peer {
  return create(PeerSchema, { id: parent.id, host: parent.host, state: parent.state });
}

async function nextResponse(
  announcement: PersistentCacheAnnouncement,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AnnouncePersistentCachePeerResponse> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const result = await Promise.race([
      announcement.responses.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TransferError(`No scheduling decision within ${timeoutMs} ms`)), timeoutMs);
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
    if (result.done) throw new TransferError("The scheduler closed the announce stream");
    return result.value;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Runs a download to its end. `ready` receives the stored task as soon as its geometry is known, so requests
 * can stream pieces while they arrive.
 */
export async function runPersistentCacheDownload(
  deps: PersistentCacheDownloadDeps,
  download: PersistentCacheDownload,
  signal: AbortSignal,
  ready: (task: StoredTask) => void,
): Promise<void> {
  const { storage, schedulers, settings, metrics, log } = deps;
  const ids = { hostId: deps.hostId, taskId: download.taskId, peerId: download.peerId };
  const announcement = schedulers.announce(ids, signal);
  let finished = false;
  try {
    announcement.send({
      case: "registerPersistentCachePeerRequest",
      value: {
        persistent: download.persistent,
        tag: download.tag,
        application: download.application,
        concurrentPieceCount: settings.concurrentPieceCount,
      },
    });
    let response = await nextResponse(announcement, settings.scheduleTimeoutMs, signal);
    let task: StoredTask | undefined;
    const tried: PersistentCachePeer[] = [];
    for (let count = 1; ; count++) {
      const r = response.response;
      if (r.case === "emptyPersistentCacheTaskResponse") {
        task = storage.create({ id: download.taskId, url: "", pieceLength: 0, contentLength: 0, kind: "persistentCache", persistent: download.persistent });
        ready(task);
        announcement.send({ case: "downloadPersistentCachePeerStartedRequest", value: {} });
        break;
      }
      if (r.case !== "normalPersistentCacheTaskResponse") throw new TransferError("The scheduler sent an empty response");
      const parents = r.value.candidateCacheParents;
      const first = parents[0]?.task;
      if (!first) throw new TransferError("The scheduler sent no parents");
      if (!task) {
        const createdAt = first.createdAt ? Number(first.createdAt.seconds) * 1000 : Date.now();
        const ttlMs = first.ttl ? durationMs(first.ttl) : 0;
        task = storage.create({
          id: download.taskId,
          url: "",
          pieceLength: Number(first.pieceLength),
          contentLength: Number(first.contentLength),
          kind: "persistentCache",
          persistent: download.persistent,
          ttlMs: ttlMs > 0 ? Math.max(1, createdAt + ttlMs - Date.now()) : 0,
        });
        if (task.record.persistent !== download.persistent) storage.update(task, { persistent: download.persistent });
        ready(task);
        announcement.send({ case: "downloadPersistentCachePeerStartedRequest", value: {} });
      }
      const stored = task;
      const missing = piecesOf(stored.record.contentLength, stored.record.pieceLength).filter((p) => !stored.pieces.has(p.number));
      if (missing.length === 0) break;
      tried.push(...parents);
      const round = startParentRound({
        storage,
        transport: persistentCacheTransport(deps.transport),
        dial: deps.dial,
        hostId: deps.hostId,
        taskId: download.taskId,
        parents: parents.map(asParent),
        pieces: missing,
        concurrency: settings.concurrentPieceCount,
        pieceTimeoutMs: settings.pieceTimeoutMs,
        stallTimeoutMs: settings.collectedPieceTimeoutMs,
        signal,
        log,
        onPiece: (piece) => {
          metrics.downloadTrafficBytes.inc({ type: "remote_peer" }, piece.length);
          metrics.downloadPieces.inc({ type: "remote_peer" });
          announcement.send({ case: "downloadPieceFinishedRequest", value: { piece: toPieceMessage(piece) } });
        },
        onPieceError: (reason) => metrics.pieceFailures.inc({ reason }),
        onPieceFailed: (number, parentId) =>
          announcement.send({ case: "downloadPieceFailedRequest", value: { pieceNumber: number, parentId, temporary: true } }),
      });
      const result = await round.result;
      if (result.complete) break;
      if (count >= settings.maxScheduleCount) {
        throw new TransferError(`Cannot download persistent cache task "${download.taskId}": ${result.reason ?? "parents failed"}`);
      }
      log.info("Asking for new persistent cache parents", { taskId: download.taskId, reason: result.reason });
      announcement.send({
        case: "reschedulePersistentCachePeerRequest",
        value: { candidateParents: tried, description: result.reason },
      });
      response = await nextResponse(announcement, settings.scheduleTimeoutMs, signal);
    }
    storage.succeed(download.taskId);
    finished = true;
    announcement.send({ case: "downloadPersistentCachePeerFinishedRequest", value: {} });
  } catch (error) {
    if (!finished) {
      announcement.send({ case: "downloadPersistentCachePeerFailedRequest", value: { description: errorMessage(error) } });
    }
    throw error;
  } finally {
    // Close now: the request side ends after the queued messages and no longer follows the caller's signal.
    announcement.close();
  }
}
