/** The Vortex TCP piece server: one request per connection, piece bytes streamed from the content file. */
import { readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { Socket, TCPSocketListener } from "bun";
import { errorMessage, InvalidArgument, PieceNotFound } from "../../../common/errors.ts";
import { createLogger, type Logger } from "../../../common/log.ts";
import { pieceKey, type CompressionPolicy } from "../compression/policy.ts";
import { COMPRESSION_BLOCK_SIZE, encodeCompressedBlock, readSampleSync } from "../compression/blocks.ts";
import type { TransportMetrics } from "../metrics.ts";
import type { RdmaEngine, ServedBuffer } from "../rdma/engine.ts";
import {
  encodeErrorFrame,
  encodePieceContentHead,
  ErrorCode,
  HEADER_SIZE,
  TRAFFIC_TYPE_REMOTE_PEER,
  type PieceKind,
  type PieceMetadata,
  type PieceRequest,
} from "./codec.ts";
import {
  encodeCompressedContentHead,
  encodeHelloAck,
  encodeRdmaContent,
  encodeStreamedContentHead,
  encodeStreamedEnd,
  sealStreamedData,
  STREAMED_DATA_HEADROOM,
  ExtendedRequestParser,
  ExtensionTag,
  type ExtendedRequest,
  type Hello,
  type HelloAck,
} from "./extension.ts";

/** Default address to listen on. */
export const DEFAULT_VORTEX_HOST = "0.0.0.0";
/** Default Vortex TCP port. */
export const DEFAULT_VORTEX_PORT = 4005;
/** Time a client has to send its whole request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Time a client may leave the server unable to write before the connection is dropped. */
export const DEFAULT_WRITE_STALL_TIMEOUT_MS = 60_000;
/** Bytes read from the content file per step; two such buffers are used per connection (1 MiB measured best on loopback). */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Idle read buffers kept for reuse, so that busy servers do not churn the garbage collector. */
const MAX_POOLED_BUFFERS = 64;
/** Connections served at once before new ones are refused with an Internal error frame. */
export const DEFAULT_MAX_CONNECTIONS = 2048;
/** Time `stop()` lets pieces in flight finish before closing their connections. */
export const DEFAULT_STOP_GRACE_MS = 5_000;

/** Where the bytes of a requested piece are. */
export interface ResolvedPiece {
  /** The metadata sent before the bytes; `trafficType` defaults to REMOTE_PEER. */
  metadata: Omit<PieceMetadata, "trafficType"> & { trafficType?: number };
  /** The file holding the piece. */
  path: string;
  /** Where the piece's bytes start in that file. */
  offset: number;
  /**
   * Set for a piece this host is still receiving (only when the request accepts streamed pieces): its bytes are
   * streamed as they land, and its digest is sent at the end.
   */
  inflight?: StreamingPiece;
}

/** A piece still arriving, as the server streams it: see src/peer/storage/inflight.ts. */
export interface StreamingPiece {
  /** Bytes from the piece's start that are in the file. */
  readonly written: number;
  readonly outcome: { kind: "finished"; digest: string } | { kind: "failed"; reason: string } | undefined;
  /** Resolves at the next progress or outcome, or after `timeoutMs`. */
  changed(timeoutMs: number): Promise<void>;
}

/** The piece being streamed failed on this host; the client was told with an error frame. */
class StreamedPieceFailed extends Error {}

/** What the server reports after each request it answered. */
export interface ServedPiece {
  taskId: string;
  number: number;
  kind: PieceKind;
  /** Raw piece bytes written to the socket (or read by the child over RDMA). */
  bytes: number;
  /** How the bytes went: plain Vortex, compressed blocks, RDMA READ, or streamed while still arriving here. */
  mode?: "plain" | "compressed" | "rdma" | "streamed";
  /** Bytes on the wire for the piece's content, when compressed. */
  wireBytes?: number;
  durationMs: number;
  remoteAddress: string;
  /** Set when the piece was not (fully) served. */
  error?: unknown;
}

/** Options of {@link createVortexServer}. */
export interface VortexServerOptions {
  host?: string;
  /** 0 binds any free port; read the bound one from `server.port`. */
  port?: number;
  /**
   * Finds a piece; throws PieceNotFound when it is not stored here. With `streamed`, the client accepts a piece
   * still arriving here (returned with `inflight`).
   */
  resolvePiece(taskId: string, number: number, kind: PieceKind, options: { streamed: boolean }): Promise<ResolvedPiece>;
  log?: Logger;
  onServed?(info: ServedPiece): void;
  maxConnections?: number;
  requestTimeoutMs?: number;
  writeStallTimeoutMs?: number;
  chunkSize?: number;
  stopGraceMs?: number;
  /** Compression offered to clients that ask with the extension Hello; absent: never compress. */
  compression?: CompressionPolicy;
  /** RDMA for clients that offer it; absent: such clients are told why not and get TCP. */
  rdma?: RdmaEngine;
  /** Why RDMA is not offered, told to clients that ask for it. */
  rdmaUnavailableReason?: string;
  metrics?: TransportMetrics;
}

/** A running (or startable) Vortex server. */
export interface VortexServer extends AsyncDisposable {
  /** The bound port; valid after `start()`. */
  readonly port: number;
  /** Connections open right now. */
  readonly connections: number;
  start(): Promise<void>;
  /** Stops accepting, lets pieces in flight finish for a grace period, then closes everything. */
  stop(): Promise<void>;
}

interface Connection {
  socket: Socket<Connection> | undefined;
  parser: ExtendedRequestParser;
  phase: "request" | "responding" | "rdma" | "closing" | "closed";
  /** Bytes after the request while a child reads over RDMA, and who waits for its RdmaDone frame. */
  rdmaBytes: Uint8Array[];
  rdmaWaiter: ((ok: boolean) => void) | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves a writer waiting for `drain`; rejects it when the socket closes. */
  waiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  closed: Promise<void>;
  markClosed: () => void;
}

class ConnectionClosed extends Error {}

/** Creates a Vortex TCP server answering piece requests from `resolvePiece`. */
export function createVortexServer(options: VortexServerOptions): VortexServer {
  const host = options.host ?? DEFAULT_VORTEX_HOST;
  const log = options.log ?? createLogger({ component: "vortex-server" });
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const writeStallTimeoutMs = options.writeStallTimeoutMs ?? DEFAULT_WRITE_STALL_TIMEOUT_MS;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  if (!Number.isInteger(chunkSize) || chunkSize < 4096) throw new InvalidArgument(`Invalid chunkSize ${chunkSize}: expected at least 4096`);

  let listener: TCPSocketListener<Connection> | undefined;
  let boundPort = 0;
  const connections = new Set<Connection>();
  const pool: Uint8Array[] = [];
  const borrow = () => pool.pop() ?? new Uint8Array(chunkSize);
  const giveBack = (buffer: Uint8Array) => void (pool.length < MAX_POOLED_BUFFERS && pool.push(buffer));
  /** Buffers for StreamedData frames: a frame header's room, then up to chunkSize bytes read in place. */
  const framePool: Uint8Array[] = [];
  const borrowFrame = () => framePool.pop() ?? new Uint8Array(STREAMED_DATA_HEADROOM + chunkSize);
  const giveBackFrame = (buffer: Uint8Array) => void (framePool.length < MAX_POOLED_BUFFERS && framePool.push(buffer));

  const armTimer = (connection: Connection, ms: number, reason: string) => {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => {
      log.debug("Closing Vortex connection", { reason, remote: connection.socket?.remoteAddress });
      connection.socket?.terminate();
    }, ms);
  };

  /** Writes all of `bytes`, waiting for `drain` when the kernel buffer is full. */
  const writeAll = async (connection: Connection, bytes: Uint8Array): Promise<void> => {
    let rest = bytes;
    for (;;) {
      const socket = connection.socket;
      if (!socket || connection.phase === "closed") throw new ConnectionClosed("Connection closed by the client");
      const written = socket.write(rest);
      if (written >= rest.length) return;
      if (written > 0) rest = rest.subarray(written);
      armTimer(connection, writeStallTimeoutMs, "write stalled");
      await new Promise<void>((resolve, reject) => (connection.waiter = { resolve, reject }));
    }
  };

  /** Sends an error frame and closes the write side; the client's remaining bytes are read and dropped. */
  const fail = async (connection: Connection, code: number, message: string) => {
    connection.phase = "closing";
    try {
      await writeAll(connection, encodeErrorFrame(code, message));
    } catch {
      return;
    }
    armTimer(connection, requestTimeoutMs, "closing");
    connection.socket?.resume();
    connection.socket?.end();
  };

  const serve = async (connection: Connection, request: PieceRequest, hello: Hello | undefined) => {
    const started = performance.now();
    const remoteAddress = connection.socket?.remoteAddress ?? "";
    let bytes = 0;
    let mode: ServedPiece["mode"] = "plain";
    let wireBytes: number | undefined;
    let served: ServedBuffer | undefined;
    let file: FileHandle | undefined;
    let headSent = false;
    const report = (error?: unknown) => {
      const info: ServedPiece = {
        taskId: request.taskId,
        number: request.number,
        kind: request.kind,
        bytes,
        durationMs: performance.now() - started,
        remoteAddress,
        mode,
      };
      if (wireBytes !== undefined) info.wireBytes = wireBytes;
      if (error !== undefined) info.error = error;
      options.onServed?.(info);
    };
    try {
      const resolved = await options.resolvePiece(request.taskId, request.number, request.kind, { streamed: hello?.acceptsStreamed === true });
      if (resolved.inflight && !hello?.acceptsStreamed) throw new PieceNotFound(request.taskId, request.number);
      const metadata: PieceMetadata = { trafficType: TRAFFIC_TYPE_REMOTE_PEER, ...resolved.metadata };
      const head = encodePieceContentHead(request.kind, metadata);
      file = await open(resolved.path, "r");
      const size = (await file.stat()).size;
      if (resolved.offset + metadata.length > size) {
        throw new Error(`content file holds ${size} bytes, piece needs ${resolved.offset + metadata.length}`);
      }
      if (hello && resolved.inflight) {
        await writeAll(connection, encodeHelloAck({ mayCompress: false }));
        headSent = true;
        mode = "streamed";
        bytes = await streamInflight(connection, file, resolved.offset, metadata, resolved.inflight);
        options.metrics?.streamedPieces.inc({ direction: "upload" });
      } else if (hello) {
        const ack: Omit<HelloAck, "version"> = { mayCompress: Boolean(options.compression && options.compression.mode !== "none" && hello.acceptsZstd) };
        if (hello.rdma) {
          if (!options.rdma) ack.rdmaRefusal = options.rdmaUnavailableReason ?? "this parent has no usable RDMA device";
          else {
            try {
              served = options.rdma.serve(hello.rdma, metadata.length);
              ack.rdma = served.endpoint;
            } catch (error) {
              ack.rdmaRefusal = errorMessage(error);
              log.debug("RDMA refused for a piece; serving it over TCP", { taskId: request.taskId, number: request.number, reason: ack.rdmaRefusal });
            }
          }
        }
        if (served) {
          await writeAll(connection, encodeHelloAck(ack));
          await readInto(file, resolved.offset, served.view);
          mode = "rdma";
          headSent = true;
          connection.phase = "rdma";
          const done = new Promise<boolean>((resolve) => (connection.rdmaWaiter = resolve));
          armTimer(connection, writeStallTimeoutMs, "RDMA read not confirmed");
          await writeAll(connection, encodeRdmaContent(metadata, served.remote));
          connection.socket?.resume();
          const ok = await done;
          if (!ok) throw new ConnectionClosed("The child did not confirm its RDMA read");
          bytes = metadata.length;
          options.metrics?.rdmaPieces.inc({ direction: "upload" });
        } else {
          const key = pieceKey(request.kind, request.taskId, request.number, metadata.digest);
          const decision = options.compression
            ? await options.compression.decide(
                key,
                metadata.length,
                ack.mayCompress,
                hello,
                async (position, length) => readSampleSync(file as FileHandle, resolved.offset + position, length),
                `${request.kind}:${request.taskId}`,
              )
            : { compress: false, reason: "not_negotiated" as const };
          if ("incompressible" in decision && decision.incompressible) ack.incompressible = true;
          options.metrics?.compressionPieces.inc({ direction: "upload", decision: decision.reason });
          await writeAll(connection, encodeHelloAck(ack));
          headSent = true;
          if (decision.compress) {
            mode = "compressed";
            await writeAll(connection, encodeCompressedContentHead(metadata, COMPRESSION_BLOCK_SIZE));
            wireBytes = await streamCompressed(connection, file, resolved.offset, metadata.length, key);
            bytes = metadata.length;
            options.metrics?.compressionRawBytes.inc({ direction: "upload" }, bytes);
            options.metrics?.compressionWireBytes.inc({ direction: "upload" }, wireBytes);
          } else {
            await writeAll(connection, head);
            bytes = await streamFile(connection, file, resolved.offset, metadata.length);
          }
        }
      } else {
        headSent = true;
        await writeAll(connection, head);
        bytes = await streamFile(connection, file, resolved.offset, metadata.length);
      }
      clearTimeout(connection.timer);
      connection.phase = "closing";
      connection.socket?.end();
      report();
    } catch (error) {
      report(error);
      if (error instanceof ConnectionClosed) return;
      if (error instanceof StreamedPieceFailed) {
        // The error frame is on its way: close gracefully so that it arrives.
        connection.phase = "closing";
        connection.socket?.end();
        return;
      }
      if (headSent) {
        // Bytes are already on the wire; the only honest signal left is a short read.
        log.warn("Cannot finish serving piece", { taskId: request.taskId, number: request.number, error });
        connection.socket?.terminate();
        return;
      }
      if (error instanceof PieceNotFound) {
        await fail(connection, ErrorCode.NotFound, `piece ${request.taskId}-${request.number} not found`);
      } else if (error instanceof InvalidArgument) {
        await fail(connection, ErrorCode.InvalidArgument, errorMessage(error));
      } else {
        log.warn("Cannot serve piece", { taskId: request.taskId, number: request.number, error });
        await fail(connection, ErrorCode.Internal, errorMessage(error));
      }
    } finally {
      served?.release();
      connection.rdmaWaiter = undefined;
      await file?.close().catch(() => undefined);
    }
  };

  /** Fills `target` from the file descriptor `fd` at `position`, synchronously. */
  const readIntoSync = (fd: number, position: number, target: Uint8Array): void => {
    let got = 0;
    while (got < target.length) {
      const bytesRead = readSync(fd, target, got, target.length - got, position + got);
      if (bytesRead === 0) throw new Error(`content file ended ${target.length - got} bytes before the end of the piece`);
      got += bytesRead;
    }
  };

  /** Fills `target` from `file` at `position`. */
  const readInto = async (file: FileHandle, position: number, target: Uint8Array): Promise<void> => {
    let got = 0;
    while (got < target.length) {
      const { bytesRead } = await file.read(target, got, target.length - got, position + got);
      if (bytesRead === 0) throw new Error(`content file ended ${target.length - got} bytes before the end of the piece`);
      got += bytesRead;
    }
  };

  /**
   * Sends a piece as compressed blocks, compressing the next block while the current one is written, or from the
   * cache when another child already had it compressed. Returns the bytes of blocks written.
   */
  const streamCompressed = async (connection: Connection, file: FileHandle, position: number, length: number, key: string): Promise<number> => {
    const policy = options.compression as CompressionPolicy;
    const cached = policy.cached(key);
    let wire = 0;
    if (cached) {
      for (const block of cached.blocks) {
        await writeAll(connection, block);
        wire += block.length;
      }
      return wire;
    }
    const produce = async (from: number): Promise<Uint8Array[]> => {
      const raw = new Uint8Array(Math.min(COMPRESSION_BLOCK_SIZE, length - from));
      await readInto(file, position + from, raw);
      return encodeCompressedBlock(policy, raw);
    };
    const blocks: Uint8Array[] = [];
    let from = 0;
    let next: Promise<Uint8Array[]> | undefined = length > 0 ? produce(0) : undefined;
    try {
      while (next) {
        const parts = await next;
        from += Math.min(COMPRESSION_BLOCK_SIZE, length - from);
        next = from < length ? produce(from) : undefined;
        next?.catch(() => undefined);
        for (const part of parts) {
          await writeAll(connection, part);
          blocks.push(part);
          wire += part.length;
        }
      }
    } finally {
      await next?.catch(() => undefined);
    }
    policy.store(key, { blocks, bytes: wire });
    return wire;
  };

  /**
   * Streams a piece still arriving on this host: StreamedData frames as far as its bytes have landed, then
   * StreamedEnd with the digest it was verified with, or an error frame if it fails here. Returns the bytes sent.
   */
  const streamInflight = async (connection: Connection, file: FileHandle, position: number, metadata: PieceMetadata, piece: StreamingPiece): Promise<number> => {
    await writeAll(connection, encodeStreamedContentHead(metadata));
    const length = metadata.length;
    let sent = 0;
    let lastProgress = performance.now();
    const failWith = async (message: string): Promise<never> => {
      await writeAll(connection, encodeErrorFrame(ErrorCode.Internal, message));
      throw new StreamedPieceFailed(message);
    };
    for (;;) {
      const outcome = piece.outcome;
      if (outcome?.kind === "failed") return failWith(`piece ${metadata.number} failed on this host: ${outcome.reason}`);
      const available = Math.min(piece.written, length) - sent;
      if (available > 0) {
        const buffer = borrowFrame();
        try {
          const want = Math.min(available, chunkSize);
          const target = buffer.subarray(STREAMED_DATA_HEADROOM, STREAMED_DATA_HEADROOM + want);
          // Bytes that landed moments ago are in the page cache: a synchronous read costs far less than a trip
          // through the thread pool for each of the many small steps a piece arrives in.
          readIntoSync(file.fd, position + sent, target);
          await writeAll(connection, sealStreamedData(buffer.subarray(0, STREAMED_DATA_HEADROOM + want)));
          sent += want;
        } finally {
          giveBackFrame(buffer);
        }
        lastProgress = performance.now();
        continue;
      }
      if (sent >= length && outcome?.kind === "finished") {
        await writeAll(connection, encodeStreamedEnd(outcome.digest));
        return sent;
      }
      if (connection.phase === "closed") throw new ConnectionClosed("Connection closed by the client");
      if (performance.now() - lastProgress > writeStallTimeoutMs) {
        return failWith(`piece ${metadata.number} made no progress on this host for ${writeStallTimeoutMs} ms`);
      }
      await piece.changed(Math.min(1_000, writeStallTimeoutMs));
    }
  };

  /** Streams `length` bytes from `file` at `position`, reading the next chunk while the socket drains. */
  const streamFile = async (connection: Connection, file: FileHandle, position: number, length: number): Promise<number> => {
    const buffers = [borrow(), borrow()];
    const reads: { next?: Promise<Uint8Array> } = {};
    try {
      return await pump(connection, file, position, length, buffers, reads);
    } finally {
      // A read still in flight after a failed write would land in a buffer another connection may be sending from.
      await reads.next?.catch(() => undefined);
      for (const buffer of buffers) giveBack(buffer);
    }
  };

  const pump = async (
    connection: Connection,
    file: FileHandle,
    position: number,
    length: number,
    buffers: Uint8Array[],
    reads: { next?: Promise<Uint8Array> },
  ): Promise<number> => {
    const readAt = async (index: number, from: number): Promise<Uint8Array> => {
      const buffer = buffers[index] as Uint8Array;
      const want = Math.min(buffer.length, length - from);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await file.read(buffer, got, want - got, position + from + got);
        if (bytesRead === 0) throw new Error(`content file ended ${length - from - got} bytes before the end of the piece`);
        got += bytesRead;
      }
      return buffer.subarray(0, want);
    };
    let sent = 0;
    let index = 0;
    reads.next = length > 0 ? readAt(0, 0) : undefined;
    while (reads.next) {
      const chunk = await reads.next;
      const after = sent + chunk.length;
      index ^= 1;
      reads.next = after < length ? readAt(index, after) : undefined;
      // The read in flight targets the other buffer, so this one stays untouched until written.
      reads.next?.catch(() => undefined);
      await writeAll(connection, chunk);
      sent = after;
    }
    return sent;
  };

  /** Gathers the RdmaDone frame a child sends after reading a piece over RDMA. */
  const onRdmaDone = (connection: Connection, chunk: Uint8Array) => {
    connection.rdmaBytes.push(chunk);
    const size = connection.rdmaBytes.reduce((n, c) => n + c.length, 0);
    if (size < HEADER_SIZE + 1) return;
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const part of connection.rdmaBytes) {
      bytes.set(part, at);
      at += part.length;
    }
    connection.rdmaBytes = [];
    const ok = bytes[1] === ExtensionTag.RdmaDone && bytes[HEADER_SIZE] === 0;
    const waiter = connection.rdmaWaiter;
    connection.rdmaWaiter = undefined;
    waiter?.(ok);
  };

  const server: VortexServer = {
    get port() {
      return boundPort;
    },
    get connections() {
      return connections.size;
    },
    async start() {
      if (listener) return;
      listener = Bun.listen<Connection>({
        hostname: host,
        port: options.port ?? DEFAULT_VORTEX_PORT,
        socket: {
          open(socket) {
            let markClosed = () => {};
            const closed = new Promise<void>((resolve) => (markClosed = resolve));
            const connection: Connection = {
              socket,
              parser: new ExtendedRequestParser(),
              phase: "request",
              rdmaBytes: [],
              rdmaWaiter: undefined,
              timer: undefined,
              waiter: undefined,
              closed,
              markClosed,
            };
            socket.data = connection;
            connections.add(connection);
            socket.setNoDelay(true);
            socket.setKeepAlive(true, 5_000);
            if (connections.size > maxConnections) {
              log.warn("Refusing Vortex connection: too many connections", { limit: maxConnections });
              void fail(connection, ErrorCode.Internal, `too many connections (limit ${maxConnections})`);
              return;
            }
            armTimer(connection, requestTimeoutMs, "request timeout");
          },
          data(socket, chunk) {
            const connection = socket.data;
            if (connection.phase === "rdma") return void onRdmaDone(connection, chunk);
            if (connection.phase !== "request") return;
            let request: ExtendedRequest | "close" | undefined;
            try {
              request = connection.parser.push(chunk);
            } catch (error) {
              log.debug("Malformed Vortex request", { remote: socket.remoteAddress, error });
              void fail(connection, ErrorCode.InvalidArgument, errorMessage(error));
              return;
            }
            if (request === undefined) return;
            if (request === "close") {
              connection.phase = "closing";
              clearTimeout(connection.timer);
              socket.end();
              return;
            }
            connection.phase = "responding";
            clearTimeout(connection.timer);
            // One request per connection: stop reading so a client cannot make us buffer.
            socket.pause();
            void serve(connection, request.request, request.hello);
          },
          drain(socket) {
            const waiter = socket.data.waiter;
            socket.data.waiter = undefined;
            waiter?.resolve();
          },
          close(socket) {
            const connection = socket.data;
            if (!connection) return;
            connection.phase = "closed";
            connection.socket = undefined;
            clearTimeout(connection.timer);
            connections.delete(connection);
            const waiter = connection.waiter;
            connection.waiter = undefined;
            waiter?.reject(new ConnectionClosed("Connection closed by the client"));
            connection.rdmaWaiter?.(false);
            connection.markClosed();
          },
          error(socket, error) {
            log.debug("Vortex connection error", { remote: socket.remoteAddress, error });
          },
        },
      });
      boundPort = listener.port;
      log.info("Vortex server listening", { host, port: boundPort });
    },
    async stop() {
      const current = listener;
      if (!current) return;
      current.stop(false);
      for (const connection of connections) {
        if (connection.phase === "request") connection.socket?.terminate();
      }
      const busy = [...connections].map((connection) => connection.closed);
      if (busy.length > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([Promise.all(busy), new Promise<void>((resolve) => (timer = setTimeout(resolve, stopGraceMs)))]);
        clearTimeout(timer);
      }
      current.stop(true);
      for (const connection of connections) connection.socket?.terminate();
      listener = undefined;
      log.info("Vortex server stopped");
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
    },
  };
  return server;
}
