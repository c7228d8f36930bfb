/** The dfdaemon's persistent-cache calls on the scheduler that owns a task (picked by the task ID, as for any task). */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import type { PersistentCacheTask } from "../../gen/common/v2/common_pb.ts";
import {
  AnnouncePersistentCachePeerRequestSchema,
  Scheduler,
  type AnnouncePersistentCachePeerRequest,
  type AnnouncePersistentCachePeerResponse,
  type UploadPersistentCacheTaskStartedRequestSchema,
} from "../../gen/scheduler/v2/scheduler_pb.ts";
import { FailedPrecondition } from "../../common/errors.ts";
import { createGrpcClient } from "../../common/rpc.ts";
import { AsyncQueue } from "../download/async-queue.ts";

/** Time allowed for unary scheduler calls. */
const UNARY_TIMEOUT_MS = 10_000;

/** The request variants of AnnouncePersistentCachePeer, without the IDs. */
export type PersistentCacheAnnounceRequest = NonNullable<MessageInitShape<typeof AnnouncePersistentCachePeerRequestSchema>["request"]>;

/** An open AnnouncePersistentCachePeer stream. */
export interface PersistentCacheAnnouncement {
  send(request: PersistentCacheAnnounceRequest): void;
  readonly responses: AsyncIterator<AnnouncePersistentCachePeerResponse>;
  close(): void;
}

/** Which scheduler serves a task. */
export interface SchedulerPicker {
  readonly configured: boolean;
  pick(taskId: string): string | undefined;
}

/** Persistent-cache calls on the schedulers. */
export class PersistentCacheSchedulerCalls {
  private readonly clients = new Map<string, { client: Client<typeof Scheduler>; close(): void }>();

  constructor(private readonly picker: SchedulerPicker) {}

  /** Whether any scheduler is configured. */
  get configured(): boolean {
    return this.picker.configured;
  }

  private client(taskId: string): Client<typeof Scheduler> {
    const address = this.picker.pick(taskId);
    if (!address) throw new FailedPrecondition("No scheduler is configured (scheduler.addrs)");
    let entry = this.clients.get(address);
    if (!entry) {
      const transport = createGrpcClient(address, { timeoutMs: UNARY_TIMEOUT_MS });
      entry = { client: createClient(Scheduler, transport), close: transport.close };
      this.clients.set(address, entry);
    }
    return entry.client;
  }

  async uploadStarted(request: MessageInitShape<typeof UploadPersistentCacheTaskStartedRequestSchema> & { taskId: string }): Promise<void> {
    await this.client(request.taskId).uploadPersistentCacheTaskStarted(request, { timeoutMs: UNARY_TIMEOUT_MS });
  }

  async uploadFinished(ids: { hostId: string; taskId: string; peerId: string }): Promise<PersistentCacheTask> {
    return await this.client(ids.taskId).uploadPersistentCacheTaskFinished(ids, { timeoutMs: UNARY_TIMEOUT_MS });
  }

  async uploadFailed(ids: { hostId: string; taskId: string; peerId: string }, description: string): Promise<void> {
    await this.client(ids.taskId).uploadPersistentCacheTaskFailed({ ...ids, description }, { timeoutMs: UNARY_TIMEOUT_MS });
  }

  async statTask(hostId: string, taskId: string): Promise<PersistentCacheTask> {
    return await this.client(taskId).statPersistentCacheTask({ hostId, taskId }, { timeoutMs: UNARY_TIMEOUT_MS });
  }

  /** Deletes a task from every host that holds it; the scheduler answers once they were asked. */
  async deleteTask(hostId: string, taskId: string): Promise<void> {
    await this.client(taskId).deletePersistentCacheTask({ hostId, taskId }, { timeoutMs: 30_000 });
  }

  async deletePeer(ids: { hostId: string; taskId: string; peerId: string }): Promise<void> {
    await this.client(ids.taskId).deletePersistentCachePeer(ids, { timeoutMs: UNARY_TIMEOUT_MS });
  }

  /** Opens an AnnouncePersistentCachePeer stream for one peer. */
  announce(ids: { hostId: string; taskId: string; peerId: string }, signal: AbortSignal): PersistentCacheAnnouncement {
    const queue = new AsyncQueue<AnnouncePersistentCachePeerRequest>();
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const responses = this.client(ids.taskId)
      .announcePersistentCachePeer(queue, { signal: controller.signal, timeoutMs: 0 })
      [Symbol.asyncIterator]();
    return {
      send: (request) => queue.push(create(AnnouncePersistentCachePeerRequestSchema, { ...ids, request })),
      responses,
      close: () => {
        queue.close();
        signal.removeEventListener("abort", onAbort);
        // Let the last messages flush, then drop the call if the scheduler has not ended it.
        setTimeout(() => controller.abort(), 5000).unref?.();
      },
    };
  }

  close(): void {
    for (const entry of this.clients.values()) entry.close();
    this.clients.clear();
  }
}
