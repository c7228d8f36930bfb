/**
 * The bytes of a P2P task as a stream, in order, while pieces land in storage in any order. One read buffer is
 * sent while at most one more is read ahead, so memory stays flat whatever the task's size.
 *
 * A piece still arriving is streamed as far as its bytes have landed, so the first bytes reach the client long
 * before the first whole piece (with several pieces in flight, each one takes several piece times to finish).
 * Bytes taken that way come from one attempt at the piece; the stream moves past the piece, and sends the
 * response's last byte, only once that attempt was verified, and fails (the client sees a cut response) if it was
 * not.
 */
import { closeSync, openSync, read } from "node:fs";
import type { DownloadEvent } from "../download/task-manager.ts";

/** A piece still arriving, as the stream reads it (see src/peer/storage/inflight.ts). */
export interface ArrivingPiece {
  /** Bytes from the piece's start that are in the content file. */
  readonly written: number;
  readonly outcome: { kind: "finished" | "failed"; reason?: string } | undefined;
  /** Resolves at the next progress or outcome, or after `timeoutMs`. */
  changed(timeoutMs: number): Promise<void>;
}

/** What a task stream reads. */
export interface TaskStreamOptions {
  /** The download's events after its `started` event. */
  events: AsyncGenerator<DownloadEvent>;
  /** The task's content file. */
  path: string;
  pieceLength: number;
  /** First byte and byte count to send. */
  start: number;
  length: number;
  /** Bytes per read. */
  bufferSize: number;
  /** Pieces already stored when the stream starts. */
  available: Iterable<number>;
  /** The attempt at a piece that is arriving now, if any: its landed bytes are streamed before it is finished. */
  arriving?: (piece: number) => ArrivingPiece | undefined;
  /** Called once when the stream ends, fails or is cancelled. */
  onClose?: (result: { bytes: number; error?: unknown }) => void;
}

/** Chunks read before the client asks for them. */
const READ_AHEAD_CHUNKS = 1;
/** Longest wait for news of a piece before looking again. */
const POLL_MS = 250;

function readAt(fd: number, buffer: Uint8Array, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, buffer.length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/** Streams `[start, start+length)` of a task, taking each piece's bytes once stored or as they arrive. */
export function taskStream(options: TaskStreamOptions): ReadableStream<Uint8Array> {
  const available = new Set(options.available);
  let position = options.start;
  const end = options.start + options.length;
  let fd: number | undefined;
  let closed = false;
  let eventsDone = false;
  /** The events iterator's pending step: only one may be outstanding. */
  let nextEvent: Promise<IteratorResult<DownloadEvent>> | undefined;
  /** The piece whose bytes were (partly) taken while it arrived, and the attempt they came from. */
  let early: { piece: number; attempt: ArrivingPiece } | undefined;

  const close = (error?: unknown) => {
    if (closed) return;
    closed = true;
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    void options.events.return(undefined).catch(() => {});
    options.onClose?.({ bytes: position - options.start, error });
  };

  /** Takes the next download event into `available`; false once the events have ended. */
  const takeEvent = async (): Promise<void> => {
    nextEvent ??= options.events.next();
    const next = await nextEvent;
    nextEvent = undefined;
    if (next.done) eventsDone = true;
    else if (next.value.kind === "piece") available.add(next.value.piece.number);
  };

  /** Waits for news of `piece`: a download event, or progress of the attempt arriving now. */
  const waitForNews = async (piece: number, attempt: ArrivingPiece | undefined): Promise<void> => {
    if (eventsDone) {
      if (!attempt || attempt.outcome) throw new Error(`Task ended without piece ${piece}`);
      await attempt.changed(POLL_MS);
      return;
    }
    nextEvent ??= options.events.next();
    const event = nextEvent.then(() => "event" as const);
    // If progress wins the race, a failure of this step surfaces when the step is taken (takeEvent), not here.
    event.catch(() => {});
    // Without an attempt to follow, look again now and then for one that has started (when arrivals are offered).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const progress = attempt
      ? attempt.changed(POLL_MS).then(() => "progress" as const)
      : options.arriving && new Promise<"progress">((resolve) => (timer = setTimeout(() => resolve("progress"), POLL_MS)));
    const news = progress ? await Promise.race([event, progress]) : await event;
    clearTimeout(timer);
    if (news === "event") await takeEvent();
  };

  /** Before leaving a piece taken early, makes sure the attempt it came from was verified. */
  const settleEarly = async (): Promise<void> => {
    if (!early) return;
    const { piece, attempt } = early;
    while (attempt.outcome === undefined) await waitForNews(piece, attempt);
    if (attempt.outcome.kind !== "finished") {
      throw new Error(`Piece ${piece} failed after part of it was sent: ${attempt.outcome.reason ?? "unknown reason"}`);
    }
    early = undefined;
  };

  /**
   * How far the landed bytes of an arriving piece may be sent. The response's last byte waits for the attempt to be
   * verified: a client that has every byte its Content-Length promised takes the response as complete, so a
   * failure after that could no longer be told by cutting the response short.
   */
  const sendable = (piece: number, pieceEnd: number, attempt: ArrivingPiece): number => {
    const landed = Math.min(pieceEnd, piece * options.pieceLength + attempt.written);
    return landed >= end && attempt.outcome?.kind !== "finished" ? end - 1 : landed;
  };

  /** The byte span to send next, `[position, until)`, once it is in the content file. */
  const nextSpan = async (): Promise<number> => {
    for (;;) {
      const piece = Math.floor(position / options.pieceLength);
      const pieceEnd = Math.min(end, (piece + 1) * options.pieceLength);
      if (early && early.piece !== piece) await settleEarly();
      if (early?.piece === piece) {
        // Keep to the attempt the first bytes came from.
        const { attempt } = early;
        if (attempt.outcome?.kind === "failed") await settleEarly();
        const until = sendable(piece, pieceEnd, attempt);
        if (until > position) return until;
        await waitForNews(piece, attempt);
        continue;
      }
      if (available.has(piece)) return pieceEnd;
      const attempt = options.arriving?.(piece);
      if (attempt && attempt.outcome === undefined) {
        const until = sendable(piece, pieceEnd, attempt);
        if (until > position) {
          early = { piece, attempt };
          return until;
        }
      }
      await waitForNews(piece, attempt);
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (position >= end) {
            await settleEarly();
            close();
            controller.close();
            return;
          }
          const until = await nextSpan();
          if (closed) return;
          fd ??= openSync(options.path, "r");
          // Not zero-filled: every byte is overwritten by the read, and a memset per chunk is measurable.
          const buffer = Buffer.allocUnsafe(Math.min(options.bufferSize, until - position));
          const n = await readAt(fd, buffer, position);
          if (n === 0) throw new Error(`Short read of task content at offset ${position}`);
          position += n;
          controller.enqueue(n === buffer.length ? buffer : buffer.subarray(0, n));
        } catch (error) {
          close(error);
          controller.error(error);
        }
      },
      cancel(reason) {
        close(reason ?? new Error("Client went away"));
      },
    },
    // One read ahead: the next chunk comes off the disk while the last one goes out on the socket.
    { highWaterMark: READ_AHEAD_CHUNKS },
  );
}
