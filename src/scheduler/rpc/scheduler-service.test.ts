import { afterEach, expect, test } from "bun:test";
import * as http2 from "node:http2";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type ConnectRouter } from "@connectrpc/connect";
import { HealthService, ServingStatus } from "../../common/grpc-health.ts";
import { Priority, type DownloadSchema } from "../../gen/common/v2/common_pb.ts";
import { DfdaemonUpload, type DownloadTaskRequest } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import type { AnnouncePeerResponse } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { createLogger, setLogLevel } from "../../common/log.ts";
import { createGrpcClient, startGrpcServer, type GrpcServer } from "../../common/rpc.ts";
import { loadSchedulerConfig } from "../config.ts";
import { PeerState } from "../resource/peer.ts";
import { TaskState } from "../resource/task.ts";
import { createScheduler, type SchedulerInstance } from "../scheduler.ts";
import { hostMessage, PeerConnection, schedulerClient, waitFor, type HostInit } from "../testing.ts";

setLogLevel((process.env.TEST_LOG_LEVEL as "debug") ?? "error");

const MIB = 1024 * 1024;
type DownloadInit = MessageInitShape<typeof DownloadSchema>;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(overrides: Record<string, string> = {}) {
  const config = loadSchedulerConfig({
    overrides: { "server.listenIP": "127.0.0.1", "server.port": "0", "scheduler.retryInterval": "10ms", ...overrides },
  });
  const scheduler = createScheduler(config, { log: createLogger({ test: "scheduler" }) });
  await scheduler.start();
  const { client, close } = schedulerClient(scheduler.port);
  cleanups.push(async () => {
    close();
    await scheduler.stop();
  });
  const announce = (id: string, init: HostInit = {}) =>
    client.announceHost({ host: hostMessage(id, init), interval: durationFromMs(300_000) });
  const peer = (hostId: string, taskId: string, peerId: string) => {
    const conn = new PeerConnection(client, hostId, taskId, peerId);
    cleanups.push(() => conn.close());
    return conn;
  };
  return { scheduler, client, announce, peer };
}

function download(init: DownloadInit = {}): DownloadInit {
  return { url: "http://origin.test/file", actualContentLength: 64n * BigInt(MIB), actualPieceLength: 4n * BigInt(MIB), ...init };
}

function register(conn: PeerConnection, init: DownloadInit = {}): void {
  conn.send({ case: "registerPeerRequest", value: { download: download(init) } });
}

function parentsOf(response: AnnouncePeerResponse): string[] {
  if (response.response.case !== "normalTaskResponse") throw new Error(`Expected NormalTaskResponse, got ${response.response.case}`);
  return response.response.value.candidateParents.map((p) => p.id).sort();
}

/** Registers a peer, expects NeedBackToSource and reports back-to-source started. */
async function backToSourcePeer(ctx: Awaited<ReturnType<typeof start>>, hostId: string, taskId: string, peerId: string) {
  const conn = ctx.peer(hostId, taskId, peerId);
  register(conn, { needBackToSource: true });
  expect((await conn.next()).response.case).toBe("needBackToSourceResponse");
  conn.send({ case: "downloadPeerBackToSourceStartedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.peers.load(peerId)?.state === PeerState.BackToSource);
  return conn;
}

/** A tiny DfdaemonUpload server standing in for a seed peer: records DownloadTask calls and runs `behaviour`. */
async function fakeSeed(behaviour: (request: DownloadTaskRequest) => Promise<void>) {
  const calls: DownloadTaskRequest[] = [];
  const server: GrpcServer = await startGrpcServer({
    routes: (router: ConnectRouter) =>
      router.service(DfdaemonUpload, {
        async *downloadTask(request) {
          calls.push(request);
          await behaviour(request);
        },
      }),
    listen: { host: "127.0.0.1", port: 0 },
  });
  cleanups.push(() => server.stop());
  return { calls, port: server.port };
}

test("a first peer with no parents and no seed goes back to source", async () => {
  const ctx = await start();
  await ctx.announce("h1");
  const conn = ctx.peer("h1", "task-a", "p1");
  register(conn);
  const response = await conn.next();
  expect(response.response.case).toBe("needBackToSourceResponse");
  const task = ctx.scheduler.resource.tasks.load("task-a")!;
  expect(task.state).toBe(TaskState.Running);
  expect(task.contentLength).toBe(64 * MIB);
  expect(task.totalPieceCount).toBe(16);
  expect(ctx.scheduler.metrics.decisions.get({ decision: "back_to_source" })).toBe(1);
});

test("an unknown host gets NotFound and a bad first message gets InvalidArgument", async () => {
  const ctx = await start();
  const unknown = ctx.peer("nobody", "task-a", "p1");
  register(unknown);
  const notFound = (await unknown.end()) as ConnectError;
  expect(notFound).toBeInstanceOf(ConnectError);
  expect(notFound.code).toBe(Code.NotFound);
  expect(notFound.rawMessage).toBe('Host "nobody" not found');

  await ctx.announce("h1");
  const started = ctx.peer("h1", "task-a", "p2");
  started.send({ case: "downloadPeerStartedRequest", value: {} });
  const invalid = (await started.end()) as ConnectError;
  expect(invalid.code).toBe(Code.InvalidArgument);
  expect(invalid.rawMessage).toContain("the first message must be RegisterPeerRequest");

  const noIds = ctx.peer("h1", "task-a", "p3");
  noIds.sendRaw({ hostId: "h1", taskId: "", peerId: "p3", request: { case: "registerPeerRequest", value: { download: download() } } });
  expect(((await noIds.end()) as ConnectError).code).toBe(Code.InvalidArgument);

  const noRequest = ctx.peer("h1", "task-a", "p4");
  noRequest.sendRaw({ hostId: "h1", taskId: "task-a", peerId: "p4" });
  expect(((await noRequest.end()) as ConnectError).rawMessage).toContain("request is required");

  const noDownload = ctx.peer("h1", "task-a", "p5");
  noDownload.send({ case: "registerPeerRequest", value: {} });
  expect(((await noDownload.end()) as ConnectError).rawMessage).toContain("download is required");
});

test("a second peer gets the first, which is fetching from the origin, as a parent with its full host", async () => {
  const ctx = await start();
  await ctx.announce("h1", { ip: "10.0.0.1", port: 4100 });
  await ctx.announce("h2", { ip: "10.0.0.2", port: 4200 });
  await backToSourcePeer(ctx, "h1", "task-a", "p1");
  const second = ctx.peer("h2", "task-a", "p2");
  register(second);
  const response = await second.next();
  expect(parentsOf(response)).toEqual(["p1"]);
  const parent = response.response.case === "normalTaskResponse" ? response.response.value.candidateParents[0]! : undefined;
  expect(parent?.state).toBe(PeerState.BackToSource);
  expect(parent?.host?.ip).toBe("10.0.0.1");
  expect(parent?.host?.port).toBe(4100);
  expect(parent?.task?.id).toBe("task-a");
  expect(parent?.task?.contentLength).toBe(64n * BigInt(MIB));
  const h1 = ctx.scheduler.resource.hosts.load("h1")!;
  expect(h1.concurrentUploadCount).toBe(1);
});

test("children are fed while the source peer is still fetching: a running child becomes a parent", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2", "h3"]) await ctx.announce(id);
  await backToSourcePeer(ctx, "h1", "task-a", "p1");
  const second = ctx.peer("h2", "task-a", "p2");
  register(second);
  expect(parentsOf(await second.next())).toEqual(["p1"]);
  second.send({ case: "downloadPeerStartedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.peers.load("p2")?.state === PeerState.Running);
  const third = ctx.peer("h3", "task-a", "p3");
  register(third);
  // p1 already feeds p2, so p3 is fed by p2, which is itself still downloading.
  expect(parentsOf(await third.next())).toEqual(["p2"]);
  ctx.scheduler.settings.peerChildLimit = 0;
  await ctx.announce("h4");
  const fourth = ctx.peer("h4", "task-a", "p4");
  register(fourth);
  expect(parentsOf(await fourth.next())).toEqual(["p1", "p2", "p3"]);
});

test("a reschedule blocks the parents already tried, then goes back to source when none are left", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2", "h3"]) await ctx.announce(id);
  await backToSourcePeer(ctx, "h1", "task-a", "p1");
  await backToSourcePeer(ctx, "h2", "task-a", "p2");
  const child = ctx.peer("h3", "task-a", "p3");
  register(child);
  const first = await child.next();
  expect(parentsOf(first)).toEqual(["p1", "p2"]);
  child.send({ case: "downloadPeerStartedRequest", value: {} });
  const p1 = first.response.case === "normalTaskResponse" ? first.response.value.candidateParents.find((p) => p.id === "p1")! : undefined;
  child.send({ case: "reschedulePeerRequest", value: { candidateParents: [p1!], description: "p1 failed" } });
  expect(parentsOf(await child.next())).toEqual(["p2"]);
  child.send({ case: "downloadPieceFailedRequest", value: { parentId: "p2", pieceNumber: 3, temporary: true } });
  await waitFor(() => ctx.scheduler.resource.hosts.load("h2")!.uploadFailedCount === 1);
  child.send({ case: "reschedulePeerRequest", value: { candidateParents: [] } });
  const last = await child.next();
  expect(last.response.case).toBe("needBackToSourceResponse");
  expect(last.response.case === "needBackToSourceResponse" ? last.response.value.description : "").toContain("RetryBackToSourceLimit");
});

test("a peer that may not go back to source fails after retryLimit", async () => {
  const ctx = await start();
  await ctx.announce("h1");
  const conn = ctx.peer("h1", "task-a", "p1");
  register(conn, { disableBackToSource: true });
  const error = (await conn.end()) as ConnectError;
  expect(error.code).toBe(Code.FailedPrecondition);
  expect(error.rawMessage).toContain("scheduling exceeded RetryLimit");
  expect(ctx.scheduler.resource.peers.load("p1")?.state).toBe(PeerState.Failed);
});

test("an empty task gets EmptyTaskResponse and a metadata-only register gets MetadataOnlyResponse", async () => {
  const ctx = await start();
  await ctx.announce("h1");
  const empty = ctx.peer("h1", "task-empty", "p1");
  register(empty, { actualContentLength: 0n });
  expect((await empty.next()).response.case).toBe("emptyTaskResponse");
  expect(ctx.scheduler.resource.peers.load("p1")?.state).toBe(PeerState.ReceivedEmpty);

  const cached = ctx.peer("h1", "task-b", "p2");
  register(cached, { metadataOnly: true });
  expect((await cached.next()).response.case).toBe("metadataOnlyResponse");
  cached.send({ case: "downloadPeerStartedRequest", value: {} });
  cached.send({ case: "downloadPeerFinishedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.tasks.load("task-b")?.state === TaskState.Succeeded);
  expect(ctx.scheduler.resource.peers.load("p2")?.state).toBe(PeerState.Succeeded);
});

test("piece reports record costs on the child and upload throughput on the parent's host", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  const source = await backToSourcePeer(ctx, "h1", "task-a", "p1");
  source.send({
    case: "downloadPieceBackToSourceFinishedRequest",
    value: { piece: { number: 0, offset: 0n, length: 4n * BigInt(MIB), digest: "crc32:1", cost: durationFromMs(100) } },
  });
  const child = ctx.peer("h2", "task-a", "p2");
  register(child);
  await child.next();
  child.send({ case: "downloadPeerStartedRequest", value: {} });
  child.send({
    case: "downloadPieceFinishedRequest",
    value: { piece: { number: 0, parentId: "p1", offset: 0n, length: 4n * BigInt(MIB), digest: "crc32:1", cost: durationFromMs(40) } },
  });
  const h1 = ctx.scheduler.resource.hosts.load("h1")!;
  await waitFor(() => h1.uploadThroughput !== undefined);
  expect(h1.uploadThroughput).toBeCloseTo((4 * MIB) / 0.04, -3);
  expect(ctx.scheduler.resource.peers.load("p2")!.finishedPieces.has(0)).toBe(true);
  expect(ctx.scheduler.resource.tasks.load("task-a")!.pieces.has(0)).toBe(true);
  expect(ctx.scheduler.resource.peers.load("p1")!.uploadCosts.length).toBe(1);
});

test("back-to-source success makes the task Succeeded; its failure makes the task Failed", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  const ok = await backToSourcePeer(ctx, "h1", "task-ok", "p1");
  ok.send({ case: "downloadPeerBackToSourceFinishedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.tasks.load("task-ok")?.state === TaskState.Succeeded);
  const bad = await backToSourcePeer(ctx, "h2", "task-bad", "p2");
  bad.send({ case: "downloadPeerBackToSourceFailedRequest", value: { description: "origin 404" } });
  await waitFor(() => ctx.scheduler.resource.tasks.load("task-bad")?.state === TaskState.Failed);
  const task = ctx.scheduler.resource.tasks.load("task-bad")!;
  expect(task.contentLength).toBe(-1);
  expect(task.peerFailedCount).toBe(1);
  expect(ctx.scheduler.resource.peers.load("p2")?.state).toBe(PeerState.Failed);
});

test("StatPeer, StatTask and DeletePeer answer, and unknown IDs get NotFound", async () => {
  const ctx = await start();
  await ctx.announce("h1");
  await backToSourcePeer(ctx, "h1", "task-a", "p1");
  const peer = await ctx.client.statPeer({ hostId: "h1", taskId: "task-a", peerId: "p1" });
  expect(peer.state).toBe(PeerState.BackToSource);
  expect(peer.host?.id).toBe("h1");
  const task = await ctx.client.statTask({ hostId: "h1", taskId: "task-a" });
  expect(task.state).toBe(TaskState.Running);
  expect(task.peerCount).toBe(1);
  expect(task.hasAvailablePeer).toBe(true);
  expect(((await ctx.client.statTask({ taskId: "nope" }).catch((e) => e)) as ConnectError).code).toBe(Code.NotFound);
  expect(((await ctx.client.statPeer({ peerId: "nope" }).catch((e) => e)) as ConnectError).code).toBe(Code.NotFound);
  await ctx.client.deletePeer({ hostId: "h1", taskId: "task-a", peerId: "p1" });
  expect(ctx.scheduler.resource.peers.load("p1")).toBeUndefined();
});

test("DeleteTask forgets the task, so the next download goes back to source", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  const first = await backToSourcePeer(ctx, "h1", "task-a", "p1");
  first.send({ case: "downloadPeerBackToSourceFinishedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.tasks.load("task-a")?.state === TaskState.Succeeded);
  await ctx.client.deleteTask({ hostId: "", taskId: "task-a" });
  expect(ctx.scheduler.resource.tasks.load("task-a")).toBeUndefined();
  expect(ctx.scheduler.resource.peers.load("p1")).toBeUndefined();
  expect(((await ctx.client.statTask({ taskId: "task-a" }).catch((e) => e)) as ConnectError).code).toBe(Code.NotFound);
  const next = ctx.peer("h2", "task-a", "p2");
  register(next);
  expect((await next.next()).response.case).toBe("needBackToSourceResponse");
});

test("DeleteTask with a host ID removes only that host's peers of the task", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  await backToSourcePeer(ctx, "h1", "task-a", "p1");
  await backToSourcePeer(ctx, "h2", "task-a", "p2");
  await ctx.client.deleteTask({ hostId: "h1", taskId: "task-a" });
  expect(ctx.scheduler.resource.peers.load("p1")).toBeUndefined();
  expect(ctx.scheduler.resource.tasks.load("task-a")?.peerCount).toBe(1);
  await ctx.client.deleteTask({ hostId: "h2", taskId: "task-a" });
  expect(ctx.scheduler.resource.tasks.load("task-a")).toBeUndefined();
});

test("DeleteHost makes its peers leave and reschedules their children", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2", "h3"]) await ctx.announce(id);
  await backToSourcePeer(ctx, "h1", "task-a", "p1");
  const child = ctx.peer("h3", "task-a", "p3");
  register(child);
  expect(parentsOf(await child.next())).toEqual(["p1"]);
  child.send({ case: "downloadPeerStartedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.peers.load("p3")?.state === PeerState.Running);
  await backToSourcePeer(ctx, "h2", "task-a", "p2");
  await ctx.client.deleteHost({ hostId: "h1" });
  expect(parentsOf(await child.next())).toEqual(["p2"]);
  expect(ctx.scheduler.resource.peers.load("p1")).toBeUndefined();
  const hosts = await ctx.client.listHosts({});
  expect(hosts.hosts.map((h) => h.id).sort()).toEqual(["h2", "h3"]);
  expect(((await ctx.client.deleteHost({ hostId: "h1" }).catch((e) => e)) as ConnectError).code).toBe(Code.NotFound);
});

test("AnnounceHost validates the host and ListHosts filters by type", async () => {
  const ctx = await start();
  await ctx.announce("n1");
  await ctx.announce("s1", { type: 1 });
  expect((await ctx.client.listHosts({ type: 1 })).hosts.map((h) => h.id)).toEqual(["s1"]);
  expect((await ctx.client.listHosts({})).hosts.length).toBe(2);
  const error = (await ctx.client.announceHost({}).catch((e) => e)) as ConnectError;
  expect(error.code).toBe(Code.InvalidArgument);
  expect(error.rawMessage).toContain("host is required");
  const preheat = (await ctx.client.preheatImage({ url: "x" }).catch((e) => e)) as ConnectError;
  expect(preheat.code).toBe(Code.InvalidArgument);
  expect(preheat.rawMessage).toContain('Invalid image manifest URL "x"');
});

test("the gRPC health service reports the scheduler SERVING, as stock dfdaemons check", async () => {
  const ctx = await start();
  const transport = createGrpcClient(`127.0.0.1:${ctx.scheduler.port}`);
  cleanups.push(() => transport.close());
  const health = createClient(HealthService, transport) as unknown as { check(r: { service?: string }): Promise<{ status: number }> };
  expect((await health.check({ service: "scheduler.v2.Scheduler" })).status).toBe(ServingStatus.SERVING);
  expect((await health.check({})).status).toBe(ServingStatus.SERVING);
});

test("a triggered seed is asked to go back to source and new peers wait for it instead of the origin", async () => {
  const ctx = await start();
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const seed = await fakeSeed(async (request) => {
    // The seed takes 20 retry intervals to start, as when the origin is slow to answer a HEAD.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const conn = ctx.peer("seed-host", "task-a", "seed-peer");
    conn.send({ case: "registerPeerRequest", value: { download: request.download } });
    expect((await conn.next()).response.case).toBe("needBackToSourceResponse");
    conn.send({ case: "downloadPeerBackToSourceStartedRequest", value: {} });
    await released;
    conn.send({ case: "downloadPeerBackToSourceFinishedRequest", value: {} });
  });
  await ctx.announce("seed-host", { type: 1, port: seed.port });
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  const first = ctx.peer("h1", "task-a", "p1");
  register(first, { outputPath: "/tmp/out", priority: Priority.LEVEL0 });
  expect(parentsOf(await first.next())).toEqual(["seed-peer"]);
  expect(seed.calls.length).toBe(1);
  expect(seed.calls[0]!.download?.needBackToSource).toBe(true);
  expect(seed.calls[0]!.download?.outputPath).toBeUndefined();
  expect(seed.calls[0]!.download?.url).toBe("http://origin.test/file");
  first.send({ case: "downloadPeerStartedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.peers.load("p1")?.state === PeerState.Running);
  const second = ctx.peer("h2", "task-a", "p2");
  register(second);
  // The seed already feeds p1, which relays: the seed sends each piece about once.
  expect(parentsOf(await second.next())).toEqual(["p1"]);
  expect(seed.calls.length).toBe(1);
  expect(ctx.scheduler.metrics.decisions.get({ decision: "back_to_source" })).toBe(1);
  release();
  await waitFor(() => ctx.scheduler.resource.tasks.load("task-a")?.state === TaskState.Succeeded);
});

test("a first wave of 8 peers waits for the seed, never storms the origin, and peers relay for each other", async () => {
  const ctx = await start();
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const seed = await fakeSeed(async (request) => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const conn = ctx.peer("seed-host", "task-wave", "seed-peer");
    conn.send({ case: "registerPeerRequest", value: { download: request.download } });
    await conn.next();
    conn.send({ case: "downloadPeerBackToSourceStartedRequest", value: {} });
    await released;
  });
  await ctx.announce("seed-host", { type: 1, port: seed.port });
  const conns: PeerConnection[] = [];
  for (let i = 0; i < 8; i++) {
    await ctx.announce(`h${i}`);
    const conn = ctx.peer(`h${i}`, "task-wave", `p${i}`);
    register(conn);
    conns.push(conn);
  }
  const parents = await Promise.all(conns.map(async (conn) => parentsOf(await conn.next())));
  release();
  expect(seed.calls.length).toBe(1);
  expect(ctx.scheduler.metrics.decisions.get({ decision: "back_to_source" })).toBe(1);
  for (const list of parents) {
    expect(list.length).toBeGreaterThan(0);
    expect(list.length).toBeLessThanOrEqual(3);
  }
  // One peer is fed by the seed; the other seven by peers of the wave that relay.
  expect(parents.filter((list) => list.includes("seed-peer")).length).toBe(1);
  expect(parents.filter((list) => list.every((id) => id.startsWith("p"))).length).toBe(7);
});

test("a failed seed sends waiting peers to the origin and is not re-triggered within failedTimeout", async () => {
  const ctx = await start();
  const seed = await fakeSeed(async () => {
    throw new ConnectError("origin unreachable", Code.Internal);
  });
  await ctx.announce("seed-host", { type: 1, port: seed.port });
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  const first = ctx.peer("h1", "task-a", "p1");
  register(first);
  expect((await first.next()).response.case).toBe("needBackToSourceResponse");
  expect(ctx.scheduler.resource.tasks.load("task-a")!.seed.failedAt).toBeDefined();
  first.send({ case: "downloadPeerBackToSourceFailedRequest", value: { description: "origin unreachable" } });
  await waitFor(() => ctx.scheduler.resource.tasks.load("task-a")?.state === TaskState.Failed);
  const second = ctx.peer("h2", "task-a", "p2");
  register(second);
  expect((await second.next()).response.case).toBe("needBackToSourceResponse");
  expect(seed.calls.length).toBe(1);
  expect(ctx.scheduler.metrics.seedPeerTriggers.get({ result: "failed" })).toBe(1);
});

test("an unreachable seed hands the task to the next seed on the ring", async () => {
  const ctx = await start();
  const probe = await startGrpcServer({ routes: () => {}, listen: { host: "127.0.0.1", port: 0 } });
  const deadPort = probe.port;
  await probe.stop();
  let taskId = "";
  const live = await fakeSeed(async (request) => {
    const conn = ctx.peer("seed-live", taskId, "seed-peer");
    conn.send({ case: "registerPeerRequest", value: { download: request.download } });
    await conn.next();
    conn.send({ case: "downloadPeerBackToSourceStartedRequest", value: {} });
  });
  await ctx.announce("seed-dead", { type: 1, port: deadPort });
  await ctx.announce("seed-live", { type: 1, port: live.port });
  // A task whose owner on the ring is the dead seed.
  for (let i = 0; taskId === "" || ctx.scheduler.seeds.pick(taskId, 1)[0]?.id !== "seed-dead"; i++) taskId = `task-${i}`;
  await ctx.announce("h1");
  const conn = ctx.peer("h1", taskId, "p1");
  register(conn);
  expect(parentsOf(await conn.next())).toEqual(["seed-peer"]);
  expect(live.calls.length).toBe(1);
  expect(ctx.scheduler.seeds.targets().map((t) => t.id)).toEqual(["seed-live"]);
});

test("priorities: LEVEL1 is forbidden, LEVEL2 finds no parents, LEVEL3 goes to the origin without a seed", async () => {
  const ctx = await start();
  const seed = await fakeSeed(async () => {});
  await ctx.announce("seed-host", { type: 1, port: seed.port });
  await ctx.announce("h1");
  const forbidden = ctx.peer("h1", "task-1", "p1");
  register(forbidden, { priority: Priority.LEVEL1 });
  expect(((await forbidden.end()) as ConnectError).code).toBe(Code.FailedPrecondition);
  const p2p = ctx.peer("h1", "task-2", "p2");
  register(p2p, { priority: Priority.LEVEL2 });
  expect(((await p2p.end()) as ConnectError).code).toBe(Code.NotFound);
  const source = ctx.peer("h1", "task-3", "p3");
  register(source, { priority: Priority.LEVEL3 });
  expect((await source.next()).response.case).toBe("needBackToSourceResponse");
  expect(seed.calls.length).toBe(0);
});

test("a hot task brings a second seed in as a peer-to-peer downloader, not from the origin", async () => {
  const ctx = await start({ "seedPeer.hotTaskPeerThreshold": "2" });
  const behaviour = (hostId: string) => async (request: DownloadTaskRequest) => {
    const conn = ctx.peer(hostId, "task-hot", `${hostId}-peer`);
    conn.send({ case: "registerPeerRequest", value: { download: request.download } });
    const response = await conn.next();
    if (response.response.case === "needBackToSourceResponse") conn.send({ case: "downloadPeerBackToSourceStartedRequest", value: {} });
    else conn.send({ case: "downloadPeerStartedRequest", value: {} });
  };
  const seedA = await fakeSeed(behaviour("seed-a"));
  const seedB = await fakeSeed(behaviour("seed-b"));
  await ctx.announce("seed-a", { type: 1, port: seedA.port });
  await ctx.announce("seed-b", { type: 1, port: seedB.port });
  const [owner] = ctx.scheduler.seeds.pick("task-hot", 1);
  const [ownerSeed, otherSeed] = owner!.id === "seed-a" ? [seedA, seedB] : [seedB, seedA];
  for (let i = 0; i < 4; i++) {
    await ctx.announce(`h${i}`);
    const conn = ctx.peer(`h${i}`, "task-hot", `p${i}`);
    register(conn);
    await conn.next();
  }
  await waitFor(() => otherSeed.calls.length === 1, 5000, "the second seed");
  expect(ownerSeed.calls.length).toBe(1);
  expect(ownerSeed.calls[0]!.download?.needBackToSource).toBe(true);
  expect(otherSeed.calls[0]!.download?.needBackToSource).toBe(false);
});

test("malformed gRPC messages get an error status and the scheduler keeps serving", async () => {
  const ctx = await start();
  const status = (path: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${ctx.scheduler.port}`);
      session.on("error", reject);
      const request = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
      let grpcStatus: string | undefined;
      request.on("response", (headers) => (grpcStatus ??= headers["grpc-status"] as string | undefined));
      request.on("trailers", (trailers) => (grpcStatus = trailers["grpc-status"] as string | undefined));
      request.on("data", () => {});
      request.on("end", () => {
        session.close();
        resolve(grpcStatus);
      });
      request.end(Buffer.from([0, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    });
  expect(await status("/scheduler.v2.Scheduler/StatTask")).not.toBe("0");
  expect(await status("/scheduler.v2.Scheduler/AnnouncePeer")).not.toBe("0");
  expect(await status("/scheduler.v2.Scheduler/AnnounceHost")).not.toBe("0");
  await ctx.announce("h1");
  expect((await ctx.client.listHosts({})).hosts.length).toBe(1);
});

test("a peer whose stream breaks mid-download stops being a parent", async () => {
  const ctx = await start();
  for (const id of ["h1", "h2"]) await ctx.announce(id);
  const conn = ctx.peer("h1", "task-a", "p1");
  register(conn);
  await conn.next();
  conn.send({ case: "downloadPeerBackToSourceStartedRequest", value: {} });
  await waitFor(() => ctx.scheduler.resource.peers.load("p1")?.state === PeerState.BackToSource);
  conn.sendRaw({ hostId: "h1", taskId: "task-a", peerId: "other", request: { case: "downloadPeerStartedRequest", value: {} } });
  expect(((await conn.end()) as ConnectError).code).toBe(Code.InvalidArgument);
  expect(ctx.scheduler.resource.peers.load("p1")?.state).toBe(PeerState.Failed);
});

export type { SchedulerInstance };
