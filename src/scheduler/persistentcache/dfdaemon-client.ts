/** The DfdaemonUpload calls the scheduler makes for persistent cache tasks: replicate, promote and delete. */
import { createClient, type Client } from "@connectrpc/connect";
import { DfdaemonUpload } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createGrpcClient } from "../../common/rpc.ts";

/** Where a dfdaemon's upload gRPC server listens. */
export interface DfdaemonAddress {
  readonly ip: string;
  readonly port: number;
}

/** What the scheduler asks a host to download. */
export interface ReplicateRequest {
  taskId: string;
  tag?: string;
  application?: string;
}

/** The persistent-cache calls on a host's DfdaemonUpload; each rejects on any error. */
export interface PersistentCacheDfdaemonClient {
  /** Has the host download a persistent copy; resolves when it holds the whole task. */
  downloadPersistentCacheTask(host: DfdaemonAddress, request: ReplicateRequest, signal: AbortSignal): Promise<void>;
  /** Marks the host's copy persistent (or not). */
  updatePersistentCacheTask(host: DfdaemonAddress, taskId: string, persistent: boolean, signal: AbortSignal): Promise<void>;
  /** Removes the host's copy. */
  deletePersistentCacheTask(host: DfdaemonAddress, taskId: string, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** Time allowed for the unary calls. */
const UNARY_TIMEOUT_MS = 10_000;

/** A PersistentCacheDfdaemonClient over gRPC, one HTTP/2 session per address. */
export function createPersistentCacheDfdaemonClient(): PersistentCacheDfdaemonClient {
  const transports = new Map<string, ReturnType<typeof createGrpcClient>>();
  const clientOf = (host: DfdaemonAddress): Client<typeof DfdaemonUpload> => {
    const address = host.ip.includes(":") ? `[${host.ip}]:${host.port}` : `${host.ip}:${host.port}`;
    let transport = transports.get(address);
    if (!transport) {
      transport = createGrpcClient(address);
      transports.set(address, transport);
    }
    return createClient(DfdaemonUpload, transport);
  };
  return {
    async downloadPersistentCacheTask(host, request, signal) {
      const stream = clientOf(host).downloadPersistentCacheTask(
        { taskId: request.taskId, persistent: true, tag: request.tag, application: request.application },
        { signal, timeoutMs: 0 },
      );
      for await (const _ of stream) {
        // The stream ends when the host holds the whole task.
      }
    },
    async updatePersistentCacheTask(host, taskId, persistent, signal) {
      await clientOf(host).updatePersistentCacheTask({ taskId, persistent }, { signal, timeoutMs: UNARY_TIMEOUT_MS });
    },
    async deletePersistentCacheTask(host, taskId, signal) {
      await clientOf(host).deletePersistentCacheTask({ taskId }, { signal, timeoutMs: UNARY_TIMEOUT_MS });
    },
    close() {
      for (const transport of transports.values()) transport.close();
      transports.clear();
    },
  };
}
