/**
 * Downloads pieces from candidate parents: SyncPieces with every parent at once tells who holds what,
 * then up to `concurrency` pieces move over the piece transport, rarest first, from the least busy holder.
 */
import { createClient, type Client } from "@connectrpc/connect";
import type { Peer } from "../../gen/common/v2/common_pb.ts";
import { DfdaemonUpload } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { DigestMismatch, PieceNotFound, errorMessage } from "../../common/errors.ts";
import { pieceDigest } from "../../common/digest.ts";
import type { Logger } from "../../common/log.ts";
import type { PieceGeometry } from "../../common/piece.ts";
import type { PieceTransport } from "../transport/transport.ts";
import { verifyPieceDigest } from "../transport/vortex/client.ts";
import { ExtensionUnsupported, StreamedPieceAborted } from "../transport/vortex/extended-client.ts";
import type { PieceRecord } from "../storage/metadata.ts";
import type { Storage } from "../storage/storage.ts";
import { StagingWriter } from "./staging-writer.ts";

/** Pieces of similar rarity are taken in order within a window of this many. */
const IN_ORDER_WINDOW = 8;

/** Dials a parent's DfdaemonUpload service at `ip:port`. */
export type UploadDialer = (address: string) => Client<typeof DfdaemonUpload>;

/** What fetchFromParents() needs. */
export interface ParentFetchOptions {
  storage: Storage;
  transport: PieceTransport;
  dial: UploadDialer;
  hostId: string;
  taskId: string;
  parents: Peer[];
  /** Pieces still missing. */
  pieces: PieceGeometry[];
  concurrency: number;
  pieceTimeoutMs: number;
  /** Give up when no piece arrives for this long. */
  stallTimeoutMs: number;
  signal: AbortSignal;
  log: Logger;
  onPiece(piece: PieceRecord): void;
  /** A piece failed from one parent, by reason ("digest" or "transfer"). */
  onPieceError?(reason: string): void;
  /** A piece could not be fetched from any parent that holds it. */
  onPieceFailed(number: number, parentId: string): void;
}

/** Why a round with parents ended. */
export interface ParentFetchResult {
  complete: boolean;
  /** Parents that failed (refused, died, sent bad bytes). */
  failedParents: Set<string>;
  reason?: string;
}

interface Holder {
  parentId: string;
  ip: string;
  port: number;
  seed: boolean;
  /** The parent is still receiving the piece and streams it as it arrives. */
  inFlight: boolean;
}

/** A round in progress: more parents can join it while it runs. */
export interface ParentRound {
  addParents(parents: Peer[]): void;
  result: Promise<ParentFetchResult>;
}

/** Runs one round of downloading from the given parents. */
export function fetchFromParents(options: ParentFetchOptions): Promise<ParentFetchResult> {
  return startParentRound(options).result;
}

/** Starts a round of downloading from parents; parents sent later by the scheduler join with addParents(). */
export function startParentRound(options: ParentFetchOptions): ParentRound {
  let addParents: (parents: Peer[]) => void = () => {};
  const result = runRound(options, (add) => (addParents = add));
  return { addParents: (parents) => addParents(parents), result };
}

async function runRound(options: ParentFetchOptions, expose: (add: (parents: Peer[]) => void) => void): Promise<ParentFetchResult> {
  const needed = new Map(options.pieces.map((p) => [p.number, p]));
  const holders = new Map<number, Map<string, Holder>>();
  const tried = new Map<number, Set<string>>();
  const busy = new Map<string, number>();
  const failedParents = new Set<string>();
  const active = new Set<number>();
  const controller = new AbortController();
  const signal = AbortSignal.any([options.signal, controller.signal]);
  let wake: (() => void) | undefined;
  const notify = () => wake?.();
  let openSyncs = 0;
  let lastProgress = Date.now();
  const known = new Set<string>();
  const parents: Peer[] = [];

  const sync = (parent: Peer) => {
    if (known.has(parent.id) || signal.aborted) return;
    known.add(parent.id);
    parents.push(parent);
    openSyncs++;
    const address = `${parent.host?.ip}:${parent.host?.port}`;
    const seed = (parent.host?.type ?? 0) !== 0;
    void (async () => {
      try {
        const stream = options.dial(address).syncPieces(
          { hostId: options.hostId, taskId: options.taskId, interestedPieceNumbers: [...needed.keys()], includeInFlight: true },
          { signal, timeoutMs: 0 },
        );
        for await (const response of stream) {
          if (!needed.has(response.number)) continue;
          let set = holders.get(response.number);
          if (!set) holders.set(response.number, (set = new Map()));
          // An in-flight announcement never replaces a finished one; the finished one follows it.
          if (response.inFlight && set.has(parent.id)) continue;
          set.set(parent.id, {
            parentId: parent.id,
            ip: response.ip || parent.host?.ip || "",
            port: response.tcpPort ?? parent.host?.port ?? 0,
            seed,
            inFlight: response.inFlight,
          });
          notify();
        }
      } catch (error) {
        if (!signal.aborted) {
          failedParents.add(parent.id);
          options.log.debug("Sync pieces ended with an error", { parent: parent.id, error: errorMessage(error) });
        }
      } finally {
        openSyncs--;
        notify();
      }
    })();
  };
  for (const parent of options.parents) sync(parent);
  expose((more) => {
    for (const parent of more) sync(parent);
    notify();
  });

  const choose = (): { piece: PieceGeometry; holder: Holder } | undefined => {
    let best: { piece: PieceGeometry; holder: Holder; count: number; tie: number } | undefined;
    for (const [number, set] of holders) {
      const piece = needed.get(number);
      if (!piece || active.has(number)) continue;
      const attempted = tried.get(number);
      const usable = [...set.values()].filter((h) => !failedParents.has(h.parentId) && !attempted?.has(h.parentId));
      if (usable.length === 0) continue;
      // A holder with the whole piece before one still receiving it; then the least busy; prefer non-seed peers so
      // the seed's uplink feeds pieces nobody else has yet.
      usable.sort(
        (a, b) =>
          Number(a.inFlight) - Number(b.inFlight) ||
          (busy.get(a.parentId) ?? 0) - (busy.get(b.parentId) ?? 0) ||
          Number(a.seed) - Number(b.seed),
      );
      const holder = usable[0]!;
      // Among equally rare pieces, roughly in order: a reader streaming the task (the proxy, a transfer over
      // the socket) waits for the lowest piece it lacks, while a small random window keeps siblings from
      // asking their parents for exactly the same pieces at the same moment.
      const tie = number + Math.random() * IN_ORDER_WINDOW;
      const count = usable.length;
      if (!best || count < best.count || (count === best.count && tie < best.tie)) best = { piece, holder, count, tie };
    }
    return best;
  };

  const download = async (piece: PieceGeometry, holder: Holder) => {
    active.add(piece.number);
    busy.set(holder.parentId, (busy.get(holder.parentId) ?? 0) + 1);
    const started = Date.now();
    // This host's own children may stream the piece from here while it arrives.
    const inflight = options.storage.beginPiece(options.taskId, piece.number, piece.offset, piece.length);
    const staging = new StagingWriter((bytes, position) => {
      options.storage.write(options.taskId, bytes, position);
      inflight.advanceTo(position + bytes.length);
    }, piece.length);
    try {
      const result = await options.transport.download({
        host: holder.ip,
        port: holder.port,
        taskId: options.taskId,
        number: piece.number,
        write: (chunk, position) => staging.write(chunk, position),
        signal,
        timeoutMs: options.pieceTimeoutMs,
        expectedLength: piece.length,
        ...(holder.inFlight ? { streamed: true } : {}),
        // Relayed on to this host's children as it arrives only when it arrives as plain bytes: a compressed piece
        // reaches them sooner once finished, as the blocks it came in.
        onContent: (mode) => {
          if (mode === "plain" || mode === "streamed") options.storage.markStreamable(inflight);
        },
      });
      if (result.metadata.offset !== piece.offset || result.metadata.length !== piece.length) {
        throw new DigestMismatch(
          `piece "${piece.number}" geometry`,
          `${piece.offset}+${piece.length}`,
          `${result.metadata.offset}+${result.metadata.length}`,
        );
      }
      staging.flush();
      verifyPieceDigest(result.metadata, result.crc32);
      const record: PieceRecord = {
        taskId: options.taskId,
        number: piece.number,
        offset: piece.offset,
        length: piece.length,
        digest: pieceDigest(result.crc32),
        parentId: holder.parentId,
        trafficType: 1,
        costMs: Date.now() - started,
        createdAt: Date.now(),
      };
      options.storage.finishPiece(record);
      needed.delete(piece.number);
      lastProgress = Date.now();
      options.onPiece(record);
    } catch (error) {
      options.storage.abortPiece(inflight, errorMessage(error));
      if (signal.aborted) return;
      if (holder.inFlight && (error instanceof StreamedPieceAborted || error instanceof PieceNotFound || error instanceof ExtensionUnsupported)) {
        // The parent's own copy failed or is not there yet: nothing wrong with the parent. Wait for it to announce
        // the piece again (finished) or take it from another holder.
        if (holders.get(piece.number)?.get(holder.parentId) === holder) holders.get(piece.number)?.delete(holder.parentId);
        options.log.debug("Streamed piece ended on the parent's side", { taskId: options.taskId, piece: piece.number, parent: holder.parentId, error: errorMessage(error) });
        return;
      }
      let set = tried.get(piece.number);
      if (!set) tried.set(piece.number, (set = new Set()));
      set.add(holder.parentId);
      const reason = error instanceof DigestMismatch ? "digest" : "transfer";
      options.onPieceError?.(reason);
      options.log.warn("Cannot download piece from parent", {
        taskId: options.taskId,
        piece: piece.number,
        parent: holder.parentId,
        reason,
        error: errorMessage(error),
      });
      if (reason === "transfer" && /refused|reset|closed|timed out|timeout/i.test(errorMessage(error))) {
        failedParents.add(holder.parentId);
      }
      const others = [...(holders.get(piece.number)?.values() ?? [])].filter(
        (h) => !failedParents.has(h.parentId) && !set.has(h.parentId),
      );
      if (others.length === 0) options.onPieceFailed(piece.number, holder.parentId);
    } finally {
      staging.release();
      active.delete(piece.number);
      busy.set(holder.parentId, (busy.get(holder.parentId) ?? 1) - 1);
      notify();
    }
  };

  let reason: string | undefined;
  try {
    while (needed.size > 0) {
      signal.throwIfAborted();
      while (active.size < options.concurrency) {
        const pick = choose();
        if (!pick) break;
        void download(pick.piece, pick.holder);
      }
      if (active.size === 0 && openSyncs === 0) {
        reason = "parents have no more pieces to offer";
        break;
      }
      if (active.size === 0 && failedParents.size >= parents.length) {
        reason = "every parent failed";
        break;
      }
      if (Date.now() - lastProgress > options.stallTimeoutMs && active.size === 0) {
        reason = `no piece arrived for ${options.stallTimeoutMs} ms`;
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 250);
      });
      wake = undefined;
    }
  } finally {
    controller.abort();
    while (active.size > 0) await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
  return { complete: needed.size === 0, failedParents, reason };
}
