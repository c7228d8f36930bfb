import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  AnnouncePersistentCachePeerRequestSchema,
  UploadPersistentCacheTaskStartedRequestSchema,
  type AnnouncePersistentCachePeerRequest,
  type AnnouncePersistentCachePeerResponse,
} from "../../gen/scheduler/v2/scheduler_pb.ts";
import { InvalidStateTransition } from "../../common/errors.ts";
import { createLogger, setLogLevel } from "../../common/log.ts";
import { Host } from "../resource/host.ts";
import { HostManager } from "../resource/host-manager.ts";
import { hostMessage } from "../testing.ts";
import type { DfdaemonAddress, PersistentCacheDfdaemonClient, ReplicateRequest } from "./dfdaemon-client.ts";
import { createPersistentCache, type PersistentCache } from "./index.ts";
import { PersistentCachePeer, PersistentCachePeerEvent } from "./peer.ts";
import { PersistentCacheTask, PersistentCacheTaskEvent } from "./task.ts";

setLogLevel("error");
const MIB = 1024 * 1024;

/** A fake fleet of dfdaemons: downloads register a succeeded persistent peer, as a real daemon would. */
class FakeDaemons implements PersistentCacheDfdaemonClient {
  readonly downloads: string[] = [];
  readonly updates: string[] = [];
  readonly deletes: string[] = [];
  readonly failing = new Set<string>();
  cache!: PersistentCache;
  constructor(private readonly hosts: HostManager) {}
  private hostOf(address: DfdaemonAddress): Host {
    const host = this.hosts.all().find((h) => h.ip === address.ip && h.port === address.port);
    if (!host) throw new Error(`no host at ${address.ip}:${address.port}`);
    return host;
  }
  async downloadPersistentCacheTask(address: DfdaemonAddress, request: ReplicateRequest) {
    const host = this.hostOf(address);
    this.downloads.push(host.id);
    if (this.failing.has(host.id)) throw new Error("disk on fire");
    const task = this.cache.resource.loadTask(request.taskId)!;
    const peer = new PersistentCachePeer(`${host.id}-replica`, true, task, host);
    peer.event(PersistentCachePeerEvent.RegisterNormal);
    peer.event(PersistentCachePeerEvent.Download);
    peer.event(PersistentCachePeerEvent.Succeeded);
    this.cache.resource.storePeer(peer);
  }
  async updatePersistentCacheTask(address: DfdaemonAddress, taskId: string) {
    this.updates.push(`${this.hostOf(address).id}:${taskId}`);
  }
  async deletePersistentCacheTask(address: DfdaemonAddress, taskId: string) {
    this.deletes.push(`${this.hostOf(address).id}:${taskId}`);
  }
  close() {}
}

function addHost(hosts: HostManager, id: string, port: number, init: { free?: number; disableShared?: boolean } = {}): Host {
  const host = new Host(
    hostMessage(id, {
      port,
      disableShared: init.disableShared ?? false,
    }),
  );
  host.info.disk = { free: BigInt(init.free ?? 100 * MIB) } as never;
  hosts.store(host);
  return host;
}

function setup() {
  const hosts = new HostManager();
  const daemons = new FakeDaemons(hosts);
  const cache = createPersistentCache({ hosts, log: createLogger(), client: daemons, replicationRetryIntervalMs: 0 });
  daemons.cache = cache;
  const impl = cache.implementation();
  return { hosts, daemons, cache, impl };
}

async function importTask(impl: ReturnType<typeof setup>["impl"], init: { host: string; task: string; replicas: number; ttlMs?: number; length?: number }) {
  const length = init.length ?? 10 * MIB;
  await impl.uploadPersistentCacheTaskStarted!(
    create(UploadPersistentCacheTaskStartedRequestSchema, {
      hostId: init.host,
      taskId: init.task,
      peerId: `${init.host}-uploader`,
      persistentReplicaCount: BigInt(init.replicas),
      pieceLength: BigInt(4 * MIB),
      contentLength: BigInt(length),
      pieceCount: Math.ceil(length / (4 * MIB)),
      ttl: durationFromMs(init.ttlMs ?? 3_600_000),
    }),
    {} as never,
  );
  return impl.uploadPersistentCacheTaskFinished!({ hostId: init.host, taskId: init.task, peerId: `${init.host}-uploader` } as never, {} as never);
}

async function collect(stream: AsyncIterable<AnnouncePersistentCachePeerResponse>): Promise<AnnouncePersistentCachePeerResponse[]> {
  const out: AnnouncePersistentCachePeerResponse[] = [];
  for await (const response of stream) out.push(response);
  return out;
}

async function* requests(...items: AnnouncePersistentCachePeerRequest[]) {
  yield* items;
}

describe("persistent cache state machines", () => {
  test("a task moves Pending → Uploading → Succeeded and refuses to succeed twice", () => {
    const task = new PersistentCacheTask({ id: "t", persistentReplicaCount: 1, pieceLength: 1, contentLength: 1, pieceCount: 1, ttlMs: 1 });
    expect(task.state).toBe("Pending");
    task.event(PersistentCacheTaskEvent.Upload);
    task.event(PersistentCacheTaskEvent.Succeeded);
    expect(task.state).toBe("Succeeded");
    expect(() => task.event(PersistentCacheTaskEvent.Succeeded)).toThrow(InvalidStateTransition);
  });

  test("a peer cannot start downloading before it registered", () => {
    const task = new PersistentCacheTask({ id: "t", persistentReplicaCount: 1, pieceLength: 1, contentLength: 1, pieceCount: 1, ttlMs: 1 });
    const host = new Host(hostMessage("h"));
    const peer = new PersistentCachePeer("p", false, task, host);
    expect(() => peer.event(PersistentCachePeerEvent.Download)).toThrow(InvalidStateTransition);
    peer.event(PersistentCachePeerEvent.RegisterNormal);
    peer.event(PersistentCachePeerEvent.Download);
    expect(peer.state).toBe("Running");
  });
});

describe("persistent cache replication", () => {
  test("an import is replicated to hosts with room that share data, never back to the uploader", async () => {
    const { hosts, daemons, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    addHost(hosts, "small", 4002, { free: MIB });
    addHost(hosts, "private", 4003, { disableShared: true });
    addHost(hosts, "a", 4004);
    addHost(hosts, "b", 4005);
    const finished = await importTask(impl, { host: "uploader", task: "t1", replicas: 3 });
    expect(finished.state).toBe("Succeeded");
    await Promise.all(cache.replicator.pending());
    expect(daemons.downloads.sort()).toEqual(["a", "b"]);
    const stat = await impl.statPersistentCacheTask!({ taskId: "t1" } as never, {} as never);
    expect(stat.currentPersistentReplicaCount).toBe(3n);
    expect(stat.persistentReplicaCount).toBe(3n);
  });

  test("an exported copy is promoted before any host downloads a new one", async () => {
    const { hosts, daemons, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    const exporter = addHost(hosts, "exporter", 4002);
    addHost(hosts, "c", 4003);
    await importTask(impl, { host: "uploader", task: "t2", replicas: 1 });
    const task = cache.resource.loadTask("t2")!;
    const copy = new PersistentCachePeer("exported", false, task, exporter);
    copy.event(PersistentCachePeerEvent.RegisterNormal);
    copy.event(PersistentCachePeerEvent.Succeeded);
    cache.resource.storePeer(copy);
    task.persistentReplicaCount = 2;
    await cache.replicator.replicate(task);
    expect(daemons.updates).toEqual(["exporter:t2"]);
    expect(daemons.downloads).toEqual([]);
    expect(copy.persistent).toBe(true);
  });

  test("a failing host is skipped and another one takes the replica", async () => {
    const { hosts, daemons, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    addHost(hosts, "bad", 4002);
    addHost(hosts, "good", 4003);
    daemons.failing.add("bad");
    await importTask(impl, { host: "uploader", task: "t3", replicas: 2 });
    await Promise.all(cache.replicator.pending());
    const task = cache.resource.loadTask("t3")!;
    for (let i = 0; i < 3 && task.missingReplicaCount() > 0; i++) await cache.sweep();
    expect(task.missingReplicaCount()).toBe(0);
    expect(daemons.downloads).toContain("good");
    expect(task.persistentReplicas().map((p) => p.host.id).sort()).toEqual(["good", "uploader"]);
  });

  test("a deleted host's replica is made again elsewhere", async () => {
    const { hosts, daemons, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    addHost(hosts, "a", 4002);
    await importTask(impl, { host: "uploader", task: "t4", replicas: 2 });
    await Promise.all(cache.replicator.pending());
    expect(daemons.downloads).toEqual(["a"]);
    addHost(hosts, "b", 4003);
    hosts.delete("a");
    await cache.sweep();
    await Promise.all(cache.replicator.pending());
    expect(daemons.downloads).toEqual(["a", "b"]);
    const task = cache.resource.loadTask("t4")!;
    expect(task.persistentReplicas().map((p) => p.host.id).sort()).toEqual(["b", "uploader"]);
  });

  test("an expired task is deleted from every holder and forgotten", async () => {
    const { hosts, daemons, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    addHost(hosts, "a", 4002);
    await importTask(impl, { host: "uploader", task: "t5", replicas: 2, ttlMs: 60_000 });
    await Promise.all(cache.replicator.pending());
    await Promise.all(cache.replicator.sweep(Date.now() + 30_000));
    expect(daemons.deletes).toEqual([]);
    await Promise.all(cache.replicator.sweep(Date.now() + 61_000));
    expect(daemons.deletes.sort()).toEqual(["a:t5", "uploader:t5"]);
    expect(cache.resource.loadTask("t5")).toBeUndefined();
    await expect(impl.statPersistentCacheTask!({ taskId: "t5" } as never, {} as never)).rejects.toThrow('Persistent cache task "t5" not found');
  });
});

describe("AnnouncePersistentCachePeer", () => {
  const announce = (hostId: string, taskId: string, peerId: string, request: AnnouncePersistentCachePeerRequest["request"]) =>
    create(AnnouncePersistentCachePeerRequestSchema, { hostId, taskId, peerId, request });

  test("an unknown task is NotFound", async () => {
    const { hosts, impl } = setup();
    addHost(hosts, "h", 4001);
    const stream = impl.announcePersistentCachePeer!(
      requests(announce("h", "nope", "p", { case: "registerPersistentCachePeerRequest", value: {} as never })),
      {} as never,
    ) as AsyncIterable<AnnouncePersistentCachePeerResponse>;
    await expect(collect(stream)).rejects.toThrow('Persistent cache task "nope" not found');
  });

  test("a registered peer gets parents on other hosts and becomes a holder when it finishes", async () => {
    const { hosts, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    addHost(hosts, "child", 4002);
    await importTask(impl, { host: "uploader", task: "t6", replicas: 1 });
    const responses = await collect(
      impl.announcePersistentCachePeer!(
        requests(
          announce("child", "t6", "child-peer", { case: "registerPersistentCachePeerRequest", value: { persistent: false } as never }),
          announce("child", "t6", "child-peer", { case: "downloadPersistentCachePeerStartedRequest", value: {} as never }),
          announce("child", "t6", "child-peer", { case: "downloadPersistentCachePeerFinishedRequest", value: {} as never }),
        ),
        {} as never,
      ) as AsyncIterable<AnnouncePersistentCachePeerResponse>,
    );
    expect(responses).toHaveLength(1);
    const response = responses[0]!.response;
    expect(response.case).toBe("normalPersistentCacheTaskResponse");
    if (response.case !== "normalPersistentCacheTaskResponse") return;
    expect(response.value.candidateCacheParents.map((p) => p.host?.id)).toEqual(["uploader"]);
    expect(cache.resource.loadPeer("child-peer")?.state).toBe("Succeeded");
    const stat = await impl.statPersistentCacheTask!({ taskId: "t6" } as never, {} as never);
    expect(stat.currentReplicaCount).toBe(2n);
    expect(stat.currentPersistentReplicaCount).toBe(1n);
  });

  test("a stream that ends before the peer finished drops the peer", async () => {
    const { hosts, cache, impl } = setup();
    addHost(hosts, "uploader", 4001);
    addHost(hosts, "child", 4002);
    await importTask(impl, { host: "uploader", task: "t7", replicas: 1 });
    await collect(
      impl.announcePersistentCachePeer!(
        requests(announce("child", "t7", "quitter", { case: "registerPersistentCachePeerRequest", value: { persistent: true } as never })),
        {} as never,
      ) as AsyncIterable<AnnouncePersistentCachePeerResponse>,
    );
    expect(cache.resource.loadPeer("quitter")).toBeUndefined();
  });

  test("a bad TTL and an unknown host are refused with the field or host named", async () => {
    const { hosts, impl } = setup();
    addHost(hosts, "h", 4001);
    await expect(importTask(impl, { host: "h", task: "t8", replicas: 1, ttlMs: 0 })).rejects.toThrow('field "ttl" must be positive');
    await expect(importTask(impl, { host: "ghost", task: "t8", replicas: 1 })).rejects.toThrow('Host "ghost" not found');
  });
});
