/** gRPC over HTTP/2 to dfdaemon's unix socket, and the translation of its errors into SdkError. */
import { existsSync } from "node:fs";
import * as net from "node:net";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { BackendSchema } from "../gen/errordetails/v2/errordetails_pb.ts";
import { SdkError, type SdkErrorCode } from "../errors.ts";

/** HTTP/2 windows large enough that piece-sized messages do not wait on round trips. */
const INITIAL_WINDOW_SIZE = 8 * 1024 * 1024;
/** Largest message accepted: a piece with its content. */
const READ_MAX_BYTES = 80 * 1024 * 1024;
/** An unused connection is closed after this long. */
const IDLE_CONNECTION_TIMEOUT_MS = 15_000;

/** A transport to a unix socket that can be closed. */
export interface SocketTransport extends Transport {
  close(): void;
}

/** A gRPC transport to the HTTP/2 server on a unix socket. */
export function createSocketTransport(socketPath: string): SocketTransport {
  const baseUrl = "http://localhost";
  const manager = new Http2SessionManager(
    baseUrl,
    { idleConnectionTimeoutMs: IDLE_CONNECTION_TIMEOUT_MS },
    { settings: { initialWindowSize: INITIAL_WINDOW_SIZE }, createConnection: () => net.connect(socketPath) },
  );
  const transport = createGrpcTransport({ baseUrl, sessionManager: manager, readMaxBytes: READ_MAX_BYTES, acceptCompression: [] });
  return Object.assign(transport, { close: () => manager.abort() });
}

/** Throws a clear error when the socket file is missing, before a call is attempted. */
export function requireSocket(socketPath: string): void {
  if (!existsSync(socketPath)) {
    throw new SdkError("unavailable", `Cannot connect to dfdaemon at "${socketPath}": no such socket (is dfdaemon running?)`);
  }
}

/** `InvalidArgument` → `invalid_argument`. */
function codeName(code: Code): SdkErrorCode {
  const name = Code[code] ?? "Unknown";
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() as SdkErrorCode;
}

/** Any failure of a dfdaemon call as an SdkError; `what` starts the message (`Download of "…"`). */
export function toSdkError(error: unknown, socketPath: string, what: string, signal?: AbortSignal): SdkError {
  if (error instanceof SdkError) return error;
  if (signal?.aborted) return new SdkError("canceled", `${what} canceled`, { cause: signal.reason ?? error });
  if (error instanceof ConnectError) {
    if (error.code === Code.Unavailable && /ECONNREFUSED|ENOENT|EACCES|connect/i.test(error.rawMessage)) {
      return new SdkError("unavailable", `Cannot connect to dfdaemon at "${socketPath}": ${error.rawMessage}`, { cause: error });
    }
    const [detail] = error.findDetails(BackendSchema);
    const backend = detail ? { message: detail.message, header: { ...detail.header }, ...(detail.statusCode !== undefined ? { statusCode: detail.statusCode } : {}) } : undefined;
    return new SdkError(codeName(error.code), `${what} failed: ${error.rawMessage}`, { cause: error, ...(backend ? { backend } : {}) });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SdkError("unknown", `${what} failed: ${message}`, { cause: error });
}
