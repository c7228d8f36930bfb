/** The Vortex TCP piece client: one connection per piece, bytes streamed to the caller as they arrive. */
import type { Socket } from "bun";
import { crc32 } from "../../../common/digest.ts";
import { DigestMismatch, errorMessage, PieceNotFound, TransferError } from "../../../common/errors.ts";
import {
  encodePieceRequest,
  ErrorCode,
  PieceResponseParser,
  type PieceKind,
  type PieceMetadata,
  type ResponseEvent,
} from "./codec.ts";

/** Time allowed to establish the TCP connection. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** Time allowed for the whole piece (Dragonfly's download.pieceTimeout). */
export const DEFAULT_PIECE_TIMEOUT_MS = 360_000;

/** Options of {@link downloadPiece}. */
export interface DownloadPieceOptions {
  host: string;
  port: number;
  taskId: string;
  number: number;
  kind?: PieceKind;
  /**
   * Receives the piece's bytes in order; `position` is metadata.offset plus the bytes already written.
   * Return a promise to hold back the stream until it settles. Chunks are not reused after the call.
   */
  write(chunk: Uint8Array, position: number): void | Promise<void>;
  signal?: AbortSignal;
  connectTimeoutMs?: number;
  /** Deadline for the whole piece, connect included. */
  timeoutMs?: number;
  /** The piece's length when the caller knows it; lets RDMA register a buffer of the right size up front. */
  expectedLength?: number;
  /**
   * The parent announced the piece as still arriving there: ask with the extension Hello accepting a streamed
   * piece (plain Vortex would be refused until the piece is finished).
   */
  streamed?: boolean;
  /**
   * Told how the piece comes once its head arrives, before any byte: `plain` and `streamed` bytes arrive as they
   * are on the wire, `compressed` ones block by block, and `rdma` ones all at once at the end.
   */
  onContent?(mode: "plain" | "compressed" | "rdma" | "streamed"): void;
}

/** What a finished piece download reports. */
export interface DownloadPieceResult {
  metadata: PieceMetadata;
  /** CRC-32/IEEE of the received bytes; compare with `verifyPieceDigest`. */
  crc32: number;
  /** Raw bytes received (equals metadata.length). */
  bytes: number;
}

/** Address of a host and port, with IPv6 in brackets. */
function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Downloads one piece over Vortex TCP, streaming its bytes to `options.write`. */
export function downloadPiece(options: DownloadPieceOptions): Promise<DownloadPieceResult> {
  const kind = options.kind ?? "standard";
  const address = formatAddress(options.host, options.port);
  const label = `Cannot download piece "${options.taskId}-${options.number}" from ${address}`;
  const transferError = (detail: string, cause?: unknown) => new TransferError(`${label}: ${detail}`, { cause });

  let request: Uint8Array;
  try {
    request = encodePieceRequest({ kind, taskId: options.taskId, number: options.number });
  } catch (error) {
    return Promise.reject(error);
  }
  if (options.signal?.aborted) return Promise.reject(options.signal.reason);

  return new Promise<DownloadPieceResult>((resolve, reject) => {
    const parser = new PieceResponseParser(kind);
    let socket: Socket<undefined> | undefined;
    let settled = false;
    let connected = false;
    let metadata: PieceMetadata | undefined;
    let received = 0;
    let crc = 0;
    let pendingRequest: Uint8Array | undefined = request;
    /** Chunks that arrived while a write was in flight, in order. */
    const queue: Uint8Array[] = [];
    let writing = false;
    let ended = false;

    const connectTimer = setTimeout(
      () => finish(transferError(`connect timeout after ${options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`)),
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    );
    const timeoutMs = options.timeoutMs ?? DEFAULT_PIECE_TIMEOUT_MS;
    const deadline = setTimeout(() => finish(transferError(`timeout after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => finish(options.signal?.reason ?? transferError("aborted"));
    options.signal?.addEventListener("abort", onAbort, { once: true });

    function finish(error: unknown, result?: DownloadPieceResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(deadline);
      options.signal?.removeEventListener("abort", onAbort);
      queue.length = 0;
      if (socket) {
        // A finished response leaves nothing unread, so a plain close is enough; otherwise reset.
        if (result) socket.end();
        else socket.terminate();
      }
      if (result) resolve(result);
      else reject(error);
    }

    function sendRequest(s: Socket<undefined>): void {
      while (pendingRequest) {
        const written = s.write(pendingRequest);
        if (written < 0) return;
        if (written >= pendingRequest.length) pendingRequest = undefined;
        else if (written === 0) return;
        else pendingRequest = pendingRequest.subarray(written);
      }
    }

    function onEvents(events: ResponseEvent[]): boolean {
      for (const event of events) {
        switch (event.type) {
          case "metadata":
            if (event.metadata.number !== options.number) {
              finish(transferError(`Invalid Vortex frame: got piece ${event.metadata.number} instead`));
              return false;
            }
            metadata = event.metadata;
            options.onContent?.("plain");
            break;
          case "content":
            queue.push(event.bytes);
            break;
          case "end":
            ended = true;
            break;
          case "error": {
            const { code, message } = event.error;
            if (code === ErrorCode.NotFound) {
              finish(new PieceNotFound(options.taskId, options.number, { cause: new Error(message) }));
            } else {
              finish(transferError(`remote error (code ${code}): ${message}`));
            }
            return false;
          }
        }
      }
      return true;
    }

    /** Hands queued chunks to `write` one at a time; pauses the socket while a write is pending. */
    function drainQueue(): void {
      while (!settled && !writing) {
        const chunk = queue.shift();
        if (!chunk) break;
        const position = (metadata as PieceMetadata).offset + received;
        crc = crc32(chunk, crc);
        received += chunk.length;
        let pending: void | Promise<void>;
        try {
          pending = options.write(chunk, position);
        } catch (error) {
          finish(error);
          return;
        }
        if (pending && typeof pending.then === "function") {
          writing = true;
          socket?.pause();
          pending.then(
            () => {
              writing = false;
              if (settled) return;
              socket?.resume();
              drainQueue();
            },
            (error: unknown) => finish(error),
          );
          return;
        }
      }
      if (!settled && !writing && ended && queue.length === 0) {
        finish(undefined, { metadata: metadata as PieceMetadata, crc32: crc >>> 0, bytes: received });
      }
    }

    Bun.connect<undefined>({
      hostname: options.host,
      port: options.port,
      socket: {
        open(s) {
          socket = s;
          connected = true;
          if (settled) {
            s.terminate();
            return;
          }
          clearTimeout(connectTimer);
          s.setNoDelay(true);
          s.setKeepAlive(true, 5_000);
          sendRequest(s);
        },
        drain(s) {
          sendRequest(s);
        },
        data(_s, chunk) {
          if (settled) return;
          let events: ResponseEvent[];
          try {
            events = parser.push(chunk);
          } catch (error) {
            finish(transferError(errorMessage(error), error));
            return;
          }
          if (onEvents(events)) drainQueue();
        },
        close(_s, error) {
          socket = undefined;
          if (settled || (ended && (writing || queue.length > 0))) return;
          const detail = metadata
            ? `connection closed after ${received + queue.reduce((n, c) => n + c.length, 0)} of ${metadata.length} bytes`
            : "connection closed before a response";
          finish(transferError(error ? `${detail}: ${errorMessage(error)}` : detail, error));
        },
        connectError(_s, error) {
          const code = (error as { code?: string }).code;
          const detail = code === "ECONNREFUSED" ? "connection refused" : `cannot connect: ${errorMessage(error)}`;
          finish(transferError(detail, error));
        },
        error(_s, error) {
          finish(transferError(errorMessage(error), error));
        },
      },
    }).catch((error: unknown) => {
      if (!connected) finish(transferError(`cannot connect: ${errorMessage(error)}`, error));
    });
  });
}

/**
 * Checks received bytes against the piece's `crc32:<decimal>` digest, compared as strings as Dragonfly does.
 * Returns false when the metadata carries no digest (nothing to check), true when it matches.
 */
export function verifyPieceDigest(metadata: PieceMetadata, crc: number): boolean {
  if (metadata.digest === "") return false;
  const actual = `crc32:${crc >>> 0}`;
  if (metadata.digest !== actual) throw new DigestMismatch(`piece "${metadata.number}"`, metadata.digest, actual);
  return true;
}
