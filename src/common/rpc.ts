/** gRPC over HTTP/2 with Connect: servers on TCP or unix sockets, clients, and error translation. */
import * as http2 from "node:http2";
import * as net from "node:net";
import { existsSync, unlinkSync } from "node:fs";
import { Code, ConnectError, type ConnectRouter, type Interceptor, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { LibellulaError, errorMessage } from "./errors.ts";

const CODES: Record<string, Code> = {
  InvalidArgument: Code.InvalidArgument,
  NotFound: Code.NotFound,
  FailedPrecondition: Code.FailedPrecondition,
  DataLoss: Code.DataLoss,
  Unavailable: Code.Unavailable,
  DeadlineExceeded: Code.DeadlineExceeded,
  ResourceExhausted: Code.ResourceExhausted,
  Source: Code.Internal,
  Unknown: Code.Internal,
};

/** Translates any thrown value into a ConnectError with the matching code. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof LibellulaError) return new ConnectError(error.message, CODES[error.code] ?? Code.Internal);
  return new ConnectError(errorMessage(error), Code.Internal);
}

async function* translateStream<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toConnectError(error);
  }
}

/** Server interceptor: every error leaving a handler becomes a ConnectError with the catalogue's code. */
export const translateErrors: Interceptor = (next) => async (request) => {
  try {
    const response = await next(request);
    if (response.stream) return { ...response, message: translateStream(response.message) };
    return response;
  } catch (error) {
    throw toConnectError(error);
  }
};

/** Larger HTTP/2 windows than the 64 KiB default, so multi-MiB messages do not wait on round trips. */
const HTTP2_SETTINGS: http2.Settings = { initialWindowSize: 8 * 1024 * 1024, maxFrameSize: 1024 * 1024 };
const CONNECTION_WINDOW = 32 * 1024 * 1024;

/** Where a gRPC server listens: a TCP host and port, or a unix socket path. */
export type ListenAddress = { host: string; port: number } | { path: string };

/** A running gRPC server. */
export interface GrpcServer extends AsyncDisposable {
  /** The TCP port actually bound (0 for unix sockets). */
  readonly port: number;
  stop(): Promise<void>;
}

/** Options of a gRPC server. */
export interface GrpcServerOptions {
  routes: (router: ConnectRouter) => void;
  listen: ListenAddress;
  /** Largest message accepted, bytes. */
  readMaxBytes?: number;
}

/** Starts a plain-text HTTP/2 gRPC server (gRPC, gRPC-web and Connect protocols). */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const handler = connectNodeAdapter({
    routes: options.routes,
    readMaxBytes: options.readMaxBytes ?? 64 * 1024 * 1024,
    interceptors: [translateErrors],
    // Piece bytes are incompressible and control messages are small: compression only costs CPU.
    acceptCompression: [],
  });
  const server = http2.createServer({ settings: HTTP2_SETTINGS }, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("connect", () => session.setLocalWindowSize?.(CONNECTION_WINDOW));
    session.on("close", () => sessions.delete(session));
  });
  server.on("sessionError", () => {});
  const listen = options.listen;
  if ("path" in listen && existsSync(listen.path)) unlinkSync(listen.path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if ("path" in listen) server.listen(listen.path, () => resolve());
    else server.listen(listen.port, listen.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const stop = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const session of sessions) session.close();
      setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, 2000).unref();
    });
    if ("path" in listen && existsSync(listen.path)) unlinkSync(listen.path);
  };
  return { port, stop, [Symbol.asyncDispose]: stop };
}

/** Options of a gRPC client transport. */
export interface GrpcClientOptions {
  /** Default deadline of unary calls, ms. */
  timeoutMs?: number;
}

/** A transport to `host:port` or `unix:/path`, with an idle-closing HTTP/2 session. */
export function createGrpcClient(address: string, options: GrpcClientOptions = {}): Transport & { close(): void } {
  const unix = address.startsWith("unix:") ? address.slice("unix:".length) : address.startsWith("/") ? address : null;
  const baseUrl = unix ? "http://localhost" : address.includes("://") ? address : `http://${address}`;
  const nodeOptions: http2.ClientSessionOptions = {
    settings: HTTP2_SETTINGS,
    ...(unix ? { createConnection: () => net.connect(unix) } : {}),
  };
  const manager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 15_000, pingIntervalMs: 30_000 }, nodeOptions);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: manager,
    defaultTimeoutMs: options.timeoutMs,
    readMaxBytes: 64 * 1024 * 1024,
    acceptCompression: [],
  });
  return Object.assign(transport, { close: () => manager.abort() });
}
