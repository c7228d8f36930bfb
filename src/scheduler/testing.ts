/** Fixtures shared by the scheduler's tests: hosts, peers and a gRPC client for AnnouncePeer streams. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { HostSchema, type Host as HostMessage } from "../gen/common/v2/common_pb.ts";
import {
  AnnouncePeerRequestSchema,
  Scheduler,
  type AnnouncePeerRequest,
  type AnnouncePeerResponse,
} from "../gen/scheduler/v2/scheduler_pb.ts";
import { createGrpcClient } from "../common/rpc.ts";
import { Channel } from "./rpc/channel.ts";
import { Host, HOST_TYPE_NORMAL } from "./resource/host.ts";
import { Peer, PeerEvent } from "./resource/peer.ts";
import type { Resource } from "./resource/resource.ts";

/** Test host fields. */
export interface HostInit {
  type?: number;
  ip?: string;
  port?: number;
  disableShared?: boolean;
  idc?: string;
  location?: string;
  maxTx?: bigint;
}

/** A host message with test defaults. */
export function hostMessage(id: string, init: HostInit = {}): HostMessage {
  const { idc, location, maxTx, ...rest } = init;
  const message: MessageInitShape<typeof HostSchema> = {
    id,
    hostname: id,
    ip: "127.0.0.1",
    port: 4000,
    downloadPort: 4000,
    type: HOST_TYPE_NORMAL,
    network: { idc, location, maxTxBandwidth: maxTx ?? 0n },
    ...rest,
  };
  return create(HostSchema, message);
}

/** Stores a host in the model. */
export function addHost(resource: Resource, id: string, init: Parameters<typeof hostMessage>[1] = {}): Host {
  const host = new Host(hostMessage(id, init));
  resource.hosts.store(host);
  return host;
}

/** Stores a peer of `taskId` on `host`, moved through `events`. */
export function addPeer(resource: Resource, id: string, taskId: string, host: Host, events: PeerEvent[] = []): Peer {
  const task = resource.tasks.loadOrCreate(taskId, { url: `http://origin/${taskId}` });
  const peer = new Peer(id, task, host);
  resource.peers.store(peer);
  for (const event of events) peer.event(event);
  return peer;
}

/** Events that take a peer from Pending to Running. */
export const TO_RUNNING: PeerEvent[] = [PeerEvent.RegisterNormal, PeerEvent.Download];
/** Events that take a peer from Pending to BackToSource. */
export const TO_BACK_TO_SOURCE: PeerEvent[] = [PeerEvent.RegisterNormal, PeerEvent.DownloadBackToSource];
/** Events that take a peer from Pending to Succeeded. */
export const TO_SUCCEEDED: PeerEvent[] = [PeerEvent.RegisterNormal, PeerEvent.DownloadBackToSource, PeerEvent.DownloadSucceeded];

/** A scheduler client over real gRPC. */
export function schedulerClient(port: number): { client: Client<typeof Scheduler>; close(): void } {
  const transport = createGrpcClient(`127.0.0.1:${port}`);
  return { client: createClient(Scheduler, transport), close: () => transport.close() };
}

/** Resolves `promise` or rejects after `ms` with `what` named. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms))),
  ]);
}

/** Polls `condition` until it holds (every few ms), failing after `ms`. */
export async function waitFor(condition: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One AnnouncePeer stream as a client drives it. */
export class PeerConnection {
  private readonly requests = new Channel<AnnouncePeerRequest>();
  private readonly responses: AsyncIterator<AnnouncePeerResponse>;

  constructor(
    client: Client<typeof Scheduler>,
    readonly hostId: string,
    readonly taskId: string,
    readonly peerId: string,
  ) {
    this.responses = client.announcePeer(this.requests)[Symbol.asyncIterator]();
  }

  /** Sends one request variant with this stream's IDs. */
  send(request: MessageInitShape<typeof AnnouncePeerRequestSchema>["request"]): void {
    this.requests.send(create(AnnouncePeerRequestSchema, { hostId: this.hostId, taskId: this.taskId, peerId: this.peerId, request }));
  }

  /** Sends a raw request. */
  sendRaw(init: MessageInitShape<typeof AnnouncePeerRequestSchema>): void {
    this.requests.send(create(AnnouncePeerRequestSchema, init));
  }

  /** The next response (rejects with the stream's error, or if none comes within `ms`). */
  async next(ms = 5000): Promise<AnnouncePeerResponse> {
    const result = await within(this.responses.next(), ms, `a response for peer "${this.peerId}"`);
    if (result.done) throw new Error(`Stream of peer "${this.peerId}" ended`);
    return result.value;
  }

  /** Waits for the stream's end: resolves with the error it ended with, or undefined. */
  async end(ms = 5000): Promise<unknown> {
    try {
      const result = await within(this.responses.next(), ms, `the end of peer "${this.peerId}"`);
      if (!result.done) throw new Error(`Unexpected response ${result.value.response.case}`);
      return undefined;
    } catch (error) {
      return error;
    }
  }

  /** Half-closes the request side. */
  close(): void {
    this.requests.close();
  }
}
