/** The calls jobs make on a host's DfdaemonUpload service: download, stat and delete a task. */
import { createClient } from "@connectrpc/connect";
import type { Download } from "../../gen/common/v2/common_pb.ts";
import { DfdaemonUpload, type StatLocalTaskResponse } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createGrpcClient } from "../../common/rpc.ts";

/** Where a dfdaemon's upload server listens. */
export interface HostAddress {
  readonly ip: string;
  readonly port: number;
}

/** The DfdaemonUpload calls a job needs; each rejects on any error. */
export interface DfdaemonClient {
  /** Downloads a task and drains the stream: resolves when the host holds the whole task. */
  downloadTask(host: HostAddress, download: Download, signal: AbortSignal): Promise<void>;
  statLocalTask(host: HostAddress, taskId: string, signal: AbortSignal): Promise<StatLocalTaskResponse>;
  deleteTask(host: HostAddress, taskId: string, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** A DfdaemonClient over gRPC, one HTTP/2 session per address. */
export function createDfdaemonClient(): DfdaemonClient {
  const transports = new Map<string, ReturnType<typeof createGrpcClient>>();
  function clientOf(host: HostAddress) {
    const address = host.ip.includes(":") ? `[${host.ip}]:${host.port}` : `${host.ip}:${host.port}`;
    let transport = transports.get(address);
    if (!transport) {
      transport = createGrpcClient(address);
      transports.set(address, transport);
    }
    return createClient(DfdaemonUpload, transport);
  }
  return {
    async downloadTask(host, download, signal) {
      for await (const _ of clientOf(host).downloadTask({ download }, { signal, timeoutMs: 0 })) {
        // The stream ends when the host holds the whole task.
      }
    },
    async statLocalTask(host, taskId, signal) {
      return await clientOf(host).statLocalTask({ taskId }, { signal });
    },
    async deleteTask(host, taskId, signal) {
      await clientOf(host).deleteTask({ taskId }, { signal });
    },
    close() {
      for (const transport of transports.values()) transport.close();
      transports.clear();
    },
  };
}
