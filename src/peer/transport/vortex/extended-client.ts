/**
 * The Vortex client with the extension: sends a Hello before the request, then takes the piece plain, as
 * compressed blocks (each inflated within its claimed size) or by RDMA READ, as the server chose. A server that
 * answers the Hello with an error or hangs up before answering does not speak the extension:
 * ExtensionUnsupported tells the caller to ask again with plain Vortex.
 */
import type { Socket } from "bun";
import { crc32 } from "../../../common/digest.ts";
import { DigestMismatch, errorMessage, PieceNotFound, TransferError } from "../../../common/errors.ts";
import { decompressBlock, DecompressionError } from "../compression/zstd.ts";
import type { PendingRead } from "../rdma/engine.ts";
import { RdmaError } from "../rdma/errors.ts";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_PIECE_TIMEOUT_MS, type DownloadPieceOptions, type DownloadPieceResult } from "./client.ts";
import { encodePieceRequest, ErrorCode, type PieceMetadata } from "./codec.ts";
import {
  BlockCodec,
  BLOCK_HEADER_SIZE,
  encodeBlockHeader,
  encodeHello,
  encodeRdmaDone,
  ExtendedResponseParser,
  type ExtendedResponseEvent,
  type Hello,
  type HelloAck,
  type RdmaRemoteBuffer,
} from "./extension.ts";

/** The server does not speak the extension (it refused the Hello or hung up without answering). */
export class ExtensionUnsupported extends TransferError {}

/**
 * A streamed piece failed on the server's side (its own download of the piece failed, or started over): the
 * server is fine, and the piece can be asked for again, from it or from another holder.
 */
export class StreamedPieceAborted extends TransferError {}

/** Options of {@link downloadPieceExtended}. */
export interface ExtendedDownloadOptions extends DownloadPieceOptions {
  hello: Omit<Hello, "version" | "rdma">;
  /** Keep a compressed piece's blocks, encoded as on the wire, so that they can be served again as they are. */
  keepBlocks?: boolean;
  /** A queue pair and buffer ready for RDMA; its endpoint is offered in the Hello. */
  rdma?: PendingRead;
}

/** What an extended download reports. */
export interface ExtendedDownloadResult extends DownloadPieceResult {
  /** `streamed`: the piece was still arriving on the server; its digest came at the end and was checked here. */
  mode: "plain" | "compressed" | "rdma" | "streamed";
  /** Content bytes on the wire (block headers included when compressed; 0 over RDMA). */
  wireBytes: number;
  ack: HelloAck;
  /** The compressed piece's blocks as on the wire (each header, then its stored bytes), when asked for with `keepBlocks`. */
  blocks?: Uint8Array[];
}

type Item =
  | { kind: "raw"; bytes: Uint8Array }
  | { kind: "block"; codec: number; rawLength: number; stored: Uint8Array }
  | { kind: "rdma"; remote: RdmaRemoteBuffer };

/** Items queued before the socket is paused. */
const HIGH_WATER = 16;

function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Downloads one piece with the extension. Compressed and RDMA pieces are checked against the metadata digest
 * here (a mismatch is a DecompressionError or RdmaError, so the caller can fetch the piece again plainly);
 * plain pieces are left to the caller's check, as with downloadPiece.
 */
export function downloadPieceExtended(options: ExtendedDownloadOptions): Promise<ExtendedDownloadResult> {
  const kind = options.kind ?? "standard";
  const address = formatAddress(options.host, options.port);
  const label = `Cannot download piece "${options.taskId}-${options.number}" from ${address}`;
  const transferError = (detail: string, cause?: unknown) => new TransferError(`${label}: ${detail}`, { cause });

  let request: Uint8Array;
  try {
    const hello = encodeHello({ ...options.hello, ...(options.rdma ? { rdma: options.rdma.endpoint } : {}) });
    const piece = encodePieceRequest({ kind, taskId: options.taskId, number: options.number });
    request = new Uint8Array(hello.length + piece.length);
    request.set(hello);
    request.set(piece, hello.length);
  } catch (error) {
    return Promise.reject(error);
  }
  if (options.signal?.aborted) return Promise.reject(options.signal.reason);

  return new Promise<ExtendedDownloadResult>((resolve, reject) => {
    const parser = new ExtendedResponseParser(kind);
    let socket: Socket<undefined> | undefined;
    let settled = false;
    let connected = false;
    let ack: HelloAck | undefined;
    let metadata: PieceMetadata | undefined;
    let mode: ExtendedDownloadResult["mode"] = "plain";
    let received = 0;
    let wire = 0;
    const kept: Uint8Array[] = [];
    let crc = 0;
    let ended = false;
    /** The digest a streamed piece ended with. */
    let streamedDigest: string | undefined;
    let pendingRequest: Uint8Array | undefined = request;
    const items: Item[] = [];
    /** An asynchronous item (a block, an RDMA read, a slow write) is in flight. */
    let processing = false;
    let paused = false;
    /** The connection closed while queued items were still being handled: the error to report after them. */
    let closedError: Error | undefined;

    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const connectTimer = setTimeout(() => finish(transferError(`connect timeout after ${connectTimeoutMs} ms`)), connectTimeoutMs);
    const timeoutMs = options.timeoutMs ?? DEFAULT_PIECE_TIMEOUT_MS;
    const deadline = setTimeout(() => finish(transferError(`timeout after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => finish(options.signal?.reason ?? transferError("aborted"));
    options.signal?.addEventListener("abort", onAbort, { once: true });

    function finish(error: unknown, result?: ExtendedDownloadResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(deadline);
      options.signal?.removeEventListener("abort", onAbort);
      items.length = 0;
      if (socket) {
        if (result) socket.end();
        else socket.terminate();
      }
      if (result) resolve(result);
      else reject(error);
    }

    function sendRequest(s: Socket<undefined>): void {
      while (pendingRequest) {
        const written = s.write(pendingRequest);
        if (written <= 0) return;
        pendingRequest = written >= pendingRequest.length ? undefined : pendingRequest.subarray(written);
      }
    }

    function accept(events: ExtendedResponseEvent[]): boolean {
      for (const event of events) {
        switch (event.type) {
          case "ack":
            ack = event.ack;
            break;
          case "metadata":
          case "compressed":
          case "streamed":
          case "rdma":
            if (event.metadata.number !== options.number) {
              finish(transferError(`Invalid Vortex frame: got piece ${event.metadata.number} instead`));
              return false;
            }
            if (!ack) {
              finish(new ExtensionUnsupported(`${label}: the server answered without acknowledging the extension`));
              return false;
            }
            metadata = event.metadata;
            if (event.type === "compressed") mode = "compressed";
            if (event.type === "streamed") {
              if (!options.hello.acceptsStreamed) {
                finish(transferError("Invalid Vortex frame: a streamed piece the client did not accept"));
                return false;
              }
              mode = "streamed";
            }
            if (event.type !== "rdma") options.onContent?.(mode);
            if (event.type === "rdma") {
              mode = "rdma";
              if (!options.rdma || !ack.rdma) {
                finish(transferError("Invalid Vortex frame: RDMA content without an RDMA agreement"));
                return false;
              }
              items.push({ kind: "rdma", remote: event.remote });
              options.onContent?.("rdma");
              ended = true;
            }
            break;
          case "content":
            items.push({ kind: "raw", bytes: event.bytes });
            break;
          case "block":
            items.push({ kind: "block", codec: event.codec, rawLength: event.rawLength, stored: event.stored });
            break;
          case "streamEnd":
            streamedDigest = event.digest;
            break;
          case "end":
            ended = true;
            break;
          case "error": {
            const { code, message } = event.error;
            if (!ack) finish(new ExtensionUnsupported(`${label}: the server refused the extension (code ${code}): ${message}`));
            else if (mode === "streamed" && metadata) finish(new StreamedPieceAborted(`${label}: ${message}`));
            else if (code === ErrorCode.NotFound) finish(new PieceNotFound(options.taskId, options.number, { cause: new Error(message) }));
            else finish(transferError(`remote error (code ${code}): ${message}`));
            return false;
          }
        }
      }
      return true;
    }

    /** Passes bytes on (CRC, then the caller's write); returns the write's promise when it is asynchronous. */
    function take(chunk: Uint8Array): Promise<void> | undefined {
      const position = (metadata as PieceMetadata).offset + received;
      crc = crc32(chunk, crc);
      received += chunk.length;
      const pending = options.write(chunk, position);
      return pending && typeof pending.then === "function" ? pending : undefined;
    }

    async function inflate(item: Extract<Item, { kind: "block" }>): Promise<void> {
      wire += BLOCK_HEADER_SIZE + item.stored.length;
      // The header and the received bytes, kept as they are: copying every block into one array cost more than the rest of the path.
      if (options.keepBlocks) kept.push(encodeBlockHeader(item.codec, item.rawLength, item.stored.length), item.stored);
      const raw = item.codec === BlockCodec.Stored ? item.stored : await decompressBlock(item.stored, item.rawLength);
      if (settled) return;
      await take(raw);
    }

    async function readRdma(item: Extract<Item, { kind: "rdma" }>): Promise<void> {
      const meta = metadata as PieceMetadata;
      const bytes = await (options.rdma as PendingRead).read((ack as HelloAck).rdma!, item.remote, meta.length);
      if (settled) return;
      for (let at = 0; at < bytes.length; at += 4 * 1024 * 1024) await take(bytes.subarray(at, Math.min(bytes.length, at + 4 * 1024 * 1024)));
      if (meta.length === 0) await take(bytes);
    }

    function fail(error: unknown): void {
      if (error instanceof DecompressionError) finish(new DecompressionError(`${label}: ${error.message}`, error.reason, { cause: error }));
      else if (error instanceof RdmaError) finish(new RdmaError(`${label}: ${error.message}`, { cause: error }));
      else finish(error);
    }

    /**
     * Handles queued items in order: plain bytes at once, on the calling stack (a shaped link delivers them in many
     * small reads); blocks and RDMA reads one at a time, waiting for the codec or the device. The socket is paused
     * while too many items wait.
     */
    function run(): void {
      while (!settled && !processing) {
        if (paused && items.length < HIGH_WATER / 2) {
          paused = false;
          socket?.resume();
        }
        const item = items.shift();
        if (!item) break;
        let pending: Promise<void> | undefined;
        try {
          if (item.kind === "raw") {
            wire += item.bytes.length;
            pending = take(item.bytes);
          } else {
            pending = item.kind === "block" ? inflate(item) : readRdma(item);
          }
        } catch (error) {
          fail(error);
          return;
        }
        if (pending) {
          processing = true;
          pending.then(
            () => {
              processing = false;
              run();
            },
            (error: unknown) => {
              processing = false;
              fail(error);
            },
          );
          return;
        }
      }
      if (settled || processing || items.length > 0) return;
      if (ended) complete();
      else if (closedError) finish(closedError);
    }

    function complete(): void {
      const value = crc >>> 0;
      if (mode === "streamed") {
        const meta = { ...(metadata as PieceMetadata), digest: streamedDigest ?? "" };
        if (meta.digest !== `crc32:${value}`) {
          finish(new DigestMismatch(`streamed piece "${options.taskId}-${options.number}" from ${address}`, meta.digest, `crc32:${value}`));
          return;
        }
        finish(undefined, { metadata: meta, crc32: value, bytes: received, mode, wireBytes: wire, ack: ack as HelloAck });
        return;
      }
      const meta = metadata as PieceMetadata;
      if (mode !== "plain" && meta.digest !== "" && meta.digest !== `crc32:${value}`) {
        const detail = `digest mismatch after ${mode === "rdma" ? "RDMA READ" : "decompression"}: expected "${meta.digest}", got "crc32:${value}"`;
        if (mode === "rdma") socket?.write(encodeRdmaDone(false));
        finish(mode === "rdma" ? new RdmaError(`${label}: ${detail}`) : new DecompressionError(`${label}: ${detail}`, "corrupt"));
        return;
      }
      if (mode === "rdma") socket?.write(encodeRdmaDone(true));
      const result: ExtendedDownloadResult = { metadata: meta, crc32: value, bytes: received, mode, wireBytes: mode === "rdma" ? 0 : wire, ack: ack as HelloAck };
      if (options.keepBlocks && mode === "compressed") result.blocks = kept;
      finish(undefined, result);
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
        data(s, chunk) {
          if (settled) return;
          let events: ExtendedResponseEvent[];
          try {
            events = parser.push(chunk);
          } catch (error) {
            finish(ack ? transferError(errorMessage(error), error) : new ExtensionUnsupported(`${label}: ${errorMessage(error)}`, { cause: error }));
            return;
          }
          if (!accept(events)) return;
          if (items.length >= HIGH_WATER && !paused) {
            paused = true;
            s.pause();
          }
          run();
        },
        close(_s, error) {
          socket = undefined;
          if (settled || (ended && (processing || items.length > 0))) return;
          if (!ack && !metadata) {
            finish(new ExtensionUnsupported(`${label}: connection closed before a response to the extension Hello`, { cause: error }));
            return;
          }
          const detail = metadata ? `connection closed after ${received} of ${metadata.length} bytes` : "connection closed before a response";
          const failure = transferError(error ? `${detail}: ${errorMessage(error)}` : detail, error);
          // Bytes already received are handled first: a bad block among them is the better explanation.
          if (processing || items.length > 0) closedError = failure;
          else finish(failure);
        },
        connectError(_s, error) {
          const code = (error as { code?: string }).code;
          finish(transferError(code === "ECONNREFUSED" ? "connection refused" : `cannot connect: ${errorMessage(error)}`, error));
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
