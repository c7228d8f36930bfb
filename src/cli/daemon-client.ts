/** Connects CLIs to the local dfdaemon's unix socket, with a clear message when it is not there. */
import { existsSync } from "node:fs";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { DfdaemonDownload } from "../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createGrpcClient } from "../common/rpc.ts";

/** Default socket of the local dfdaemon. */
export const DEFAULT_ENDPOINT = "/var/run/dragonfly/dfdaemon.sock";

/** A client of DfdaemonDownload on `endpoint`; throws a readable error if the socket does not exist. */
export function connectDaemon(endpoint: string): { client: Client<typeof DfdaemonDownload>; close(): void } {
  if (!existsSync(endpoint)) {
    throw new Error(`Cannot connect to dfdaemon at "${endpoint}": no such socket (is dfdaemon running? see --endpoint)`);
  }
  const transport = createGrpcClient(`unix:${endpoint}`);
  return { client: createClient(DfdaemonDownload, transport), close: transport.close };
}

/** A readable message for an RPC failure. */
export function describeRpcError(error: unknown, endpoint: string): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.Unavailable && /ECONNREFUSED|ENOENT|connect/i.test(error.rawMessage)) {
      return `Cannot connect to dfdaemon at "${endpoint}": ${error.rawMessage}`;
    }
    return error.rawMessage;
  }
  return error instanceof Error ? error.message : String(error);
}
