/**
 * The bytes of a P2P task as a stream, in order, while pieces land in storage in any order. One read buffer is
 * sent while at most one more is read ahead, so memory stays flat whatever the task's size.
 */
import { closeSync, openSync, read } from "node:fs";
import type { DownloadEvent } from "../download/task-manager.ts";

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
  /** Called once when the stream ends, fails or is cancelled. */
  onClose?: (result: { bytes: number; error?: unknown }) => void;
}

/** Chunks read before the client asks for them. */
const READ_AHEAD_CHUNKS = 1;

function readAt(fd: number, buffer: Uint8Array, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, buffer.length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/** Streams `[start, start+length)` of a task, waiting for each piece before reading it. */
export function taskStream(options: TaskStreamOptions): ReadableStream<Uint8Array> {
  const available = new Set(options.available);
  let position = options.start;
  const end = options.start + options.length;
  let fd: number | undefined;
  let closed = false;
  let eventsDone = false;

  const close = (error?: unknown) => {
    if (closed) return;
    closed = true;
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    void options.events.return(undefined).catch(() => {});
    options.onClose?.({ bytes: position - options.start, error });
  };

  const waitFor = async (piece: number) => {
    while (!available.has(piece)) {
      if (eventsDone) throw new Error(`Task ended without piece ${piece}`);
      const next = await options.events.next();
      if (next.done) {
        eventsDone = true;
        continue;
      }
      if (next.value.kind === "piece") available.add(next.value.piece.number);
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (position >= end) {
            close();
            controller.close();
            return;
          }
          const piece = Math.floor(position / options.pieceLength);
          await waitFor(piece);
          if (closed) return;
          fd ??= openSync(options.path, "r");
          const pieceEnd = Math.min(end, (piece + 1) * options.pieceLength);
          // Not zero-filled: every byte is overwritten by the read, and a memset per chunk is measurable.
          const buffer = Buffer.allocUnsafe(Math.min(options.bufferSize, pieceEnd - position));
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
