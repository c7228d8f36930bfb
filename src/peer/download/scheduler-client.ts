/** The peer's side of the scheduler: host announcements, the per-task AnnouncePeer stream, task deletion. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import type { Host } from "../../gen/common/v2/common_pb.ts";
import {
  AnnouncePeerRequestSchema,
  Scheduler,
  type AnnouncePeerRequest,
  type AnnouncePeerResponse,
} from "../../gen/scheduler/v2/scheduler_pb.ts";
import { errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import { createGrpcClient } from "../../common/rpc.ts";
import { AsyncQueue } from "./async-queue.ts";
import { SchedulerRing } from "./scheduler-ring.ts";

/** The request variants of AnnouncePeer, without the IDs. */
export type AnnounceRequest = NonNullable<MessageInitShape<typeof AnnouncePeerRequestSchema>["request"]>;

/** An open AnnouncePeer stream of one peer. */
export interface PeerAnnouncement {
  readonly address: string;
  send(request: AnnounceRequest): void;
  readonly responses: AsyncIterator<AnnouncePeerResponse>;
  /** A read of `responses` in flight, shared by the readers of the stream. */
  pending?: Promise<IteratorResult<AnnouncePeerResponse>>;
  /** A response read ahead and not yet handled. */
  held?: AnnouncePeerResponse;
  /** Set once the scheduler closed its side. */
  ended?: boolean;
  close(): void;
}

/** Options of the scheduler client. */
export interface SchedulerClientOptions {
  addresses: readonly string[];
  host: () => Host;
  announceIntervalMs: number;
  log: Logger;
}

/** Talks to the schedulers of this peer. */
export class SchedulerClient {
  private readonly ring: SchedulerRing;
  private readonly clients = new Map<string, { client: Client<typeof Scheduler>; close(): void }>();
  private readonly unhealthy = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: SchedulerClientOptions) {
    this.ring = new SchedulerRing(options.addresses);
  }

  /** Whether any scheduler is configured. */
  get configured(): boolean {
    return this.ring.addresses().length > 0;
  }

  /** Replaces the scheduler list (from the manager's dynamic config). */
  setAddresses(addresses: readonly string[]): void {
    this.ring.set(addresses);
  }

  private client(address: string): Client<typeof Scheduler> {
    let entry = this.clients.get(address);
    if (!entry) {
      const transport = createGrpcClient(address, { timeoutMs: 10_000 });
      entry = { client: createClient(Scheduler, transport), close: transport.close };
      this.clients.set(address, entry);
    }
    return entry.client;
  }

  /** Announces this host to every scheduler now and every interval. */
  async start(): Promise<void> {
    await this.announceHost();
    this.timer = setInterval(() => void this.announceHost(), this.options.announceIntervalMs);
    this.timer.unref?.();
  }

  /** Tells every scheduler this host is leaving and closes connections. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const host = this.options.host();
    await Promise.allSettled(
      this.ring.addresses().map((address) => this.client(address).deleteHost({ hostId: host.id }, { timeoutMs: 2000 })),
    );
    for (const entry of this.clients.values()) entry.close();
    this.clients.clear();
  }

  /** Announces the host to every scheduler; failures are logged, not thrown. */
  async announceHost(): Promise<void> {
    const host = this.options.host();
    await Promise.all(
      this.ring.addresses().map(async (address) => {
        try {
          await this.client(address).announceHost(
            { host, interval: durationFromMs(this.options.announceIntervalMs) },
            { timeoutMs: 5000 },
          );
          this.unhealthy.delete(address);
        } catch (error) {
          this.unhealthy.set(address, Date.now());
          this.options.log.warn("Cannot announce host to scheduler", { scheduler: address, error: errorMessage(error) });
        }
      }),
    );
  }

  /** The scheduler of a task, skipping schedulers that failed recently. */
  pick(taskId: string, exclude: ReadonlySet<string> = new Set()): string | undefined {
    const recent = new Set(exclude);
    for (const [address, at] of this.unhealthy) if (Date.now() - at < 30_000) recent.add(address);
    return this.ring.pick(taskId, recent) ?? this.ring.pick(taskId, exclude);
  }

  /** Records that a scheduler failed, so the next pick avoids it for a while. */
  markUnhealthy(address: string): void {
    this.unhealthy.set(address, Date.now());
  }

  /** Opens an AnnouncePeer stream for a peer on the scheduler at `address`. */
  announcePeer(address: string, ids: { hostId: string; taskId: string; peerId: string }, signal?: AbortSignal): PeerAnnouncement {
    const queue = new AsyncQueue<AnnouncePeerRequest>();
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const responses = this.client(address)
      .announcePeer(queue, { signal: controller.signal, timeoutMs: 0 })
      [Symbol.asyncIterator]();
    return {
      address,
      send: (request) => queue.push(create(AnnouncePeerRequestSchema, { ...ids, request })),
      responses,
      close: () => {
        queue.close();
        signal?.removeEventListener("abort", onAbort);
        setTimeout(() => controller.abort(), 5000).unref?.();
      },
    };
  }

  /** Asks the task's scheduler to forget a task (after local eviction). */
  async deleteTask(taskId: string): Promise<void> {
    const address = this.pick(taskId);
    if (!address) return;
    await this.client(address).deleteTask({ hostId: this.options.host().id, taskId }, { timeoutMs: 5000 });
  }
}
