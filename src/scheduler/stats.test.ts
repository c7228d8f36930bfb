import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { PieceSchema, TrafficType } from "../gen/common/v2/common_pb.ts";
import { ManagerExt, type ReportStatsRequest } from "../gen/libellula/manager/v1/manager_ext_pb.ts";
import { createLogger, setLogLevel } from "../common/log.ts";
import { startGrpcServer } from "../common/rpc.ts";
import { VERSION } from "../common/version.ts";
import { createResource } from "./resource/resource.ts";
import { StatsReporter, TrafficStats } from "./stats.ts";
import { addHost, addPeer, waitFor } from "./testing.ts";

setLogLevel("error");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MIB = 1024 * 1024;
const piece = (number: number, length: number, parentId = "", trafficType?: TrafficType) =>
  create(PieceSchema, { number, length: BigInt(length), parentId, trafficType });

function cluster() {
  const resource = createResource();
  const seedHost = addHost(resource, "seed-host", { type: 1 });
  const peerHost = addHost(resource, "peer-host");
  const seed = addPeer(resource, "seed-peer", "task-1", seedHost);
  const peer = addPeer(resource, "peer-peer", "task-1", peerHost);
  return { resource, seed, peer };
}

test("pieces are summed by traffic type and by (task, child host, parent host); take() starts afresh", () => {
  const { seed, peer } = cluster();
  const stats = new TrafficStats();
  stats.recordPiece(seed, piece(0, 4 * MIB), true, undefined);
  stats.recordPiece(seed, piece(1, 2 * MIB), true, undefined);
  stats.recordPiece(peer, piece(0, 4 * MIB, "seed-peer", TrafficType.REMOTE_PEER), false, seed);
  stats.recordPiece(peer, piece(1, 2 * MIB, "seed-peer", TrafficType.REMOTE_PEER), false, seed);
  stats.recordPiece(peer, piece(2, MIB, "", TrafficType.LOCAL_PEER), false, undefined);
  stats.recordPiece(peer, piece(3, 0, "seed-peer"), false, seed);

  const interval = stats.take();
  expect(interval).toMatchObject({ backToSourceBytes: 6 * MIB, remotePeerBytes: 6 * MIB, localPeerBytes: MIB, droppedTransfers: 0 });
  const transfers = interval.transfers.map((t) => ({ task: t.taskId, child: t.child.hostname, parent: t.parent?.hostname ?? null, type: t.parent?.type, bytes: t.bytes, pieces: t.pieces }));
  expect(transfers).toEqual([
    { task: "task-1", child: "seed-host", parent: null, type: undefined, bytes: 6 * MIB, pieces: 2 },
    { task: "task-1", child: "peer-host", parent: "seed-host", type: "super", bytes: 6 * MIB, pieces: 2 },
  ]);
  expect(stats.empty).toBe(true);
  expect(stats.take().transfers).toEqual([]);
});

test("transfers beyond the bound are counted as dropped, bytes still counted; a failed interval is merged back", () => {
  const { seed, peer } = cluster();
  const stats = new TrafficStats(1);
  stats.recordPiece(seed, piece(0, 100), true, undefined);
  stats.recordPiece(peer, piece(0, 100, "seed-peer"), false, seed);
  const first = stats.take();
  expect(first.transfers).toHaveLength(1);
  expect(first.droppedTransfers).toBe(1);
  expect(first.remotePeerBytes).toBe(100);

  stats.recordPiece(seed, piece(1, 50), true, undefined);
  stats.restore(first);
  const merged = stats.take();
  expect(merged.backToSourceBytes).toBe(150);
  expect(merged.remotePeerBytes).toBe(100);
  expect(merged.transfers).toEqual([expect.objectContaining({ bytes: 150, pieces: 2 })]);
  expect(merged.startMs).toBe(first.startMs);
});

test("the reporter sends each interval with live counts, fresh seed peers and the version, and resends after a failure", async () => {
  const { resource, seed, peer } = cluster();
  const received: ReportStatsRequest[] = [];
  let failNext = true;
  const server = await startGrpcServer({
    routes: (router: ConnectRouter) =>
      router.service(ManagerExt, {
        async reportStats(request) {
          if (failNext) {
            failNext = false;
            throw new ConnectError("Not yet", Code.Unavailable);
          }
          received.push(request);
          return {};
        },
      }),
    listen: { host: "127.0.0.1", port: 0 },
  });
  cleanups.push(() => server.stop());
  const stats = new TrafficStats();
  const reporter = new StatsReporter({
    addr: `127.0.0.1:${server.port}`,
    hostname: "sched",
    ip: "127.0.0.1",
    clusterId: 3,
    intervalMs: 50,
    stats,
    resource,
    log: createLogger({ component: "test" }),
  });
  stats.recordPiece(seed, piece(0, 1000), true, undefined);
  stats.recordPiece(peer, piece(0, 1000, "seed-peer"), false, seed);
  expect(await reporter.report()).toBe(false);
  await reporter.start();
  cleanups.push(() => reporter.stop());
  await waitFor(() => received.length >= 1, 10_000, "a report");
  const [first] = received;
  expect(first!.backToSourceBytes).toBe(1000n);
  expect(first!.remotePeerBytes).toBe(1000n);
  expect(first!.schedulerClusterId).toBe(3n);
  expect(first!.version).toBe(VERSION);
  expect(first!.activeTasks).toBe(1);
  expect(first!.activePeers).toBe(2);
  expect(first!.hosts).toBe(2);
  expect(first!.intervalMs).toBe(50);
  expect(first!.transfers).toHaveLength(2);
  expect(first!.seedPeers.map((s) => `${s.hostname} ${s.type} ${s.port}`)).toEqual(["seed-host super 4000"]);
  // Nothing new: later reports carry no bytes but still the counts.
  await waitFor(() => received.length >= 2, 10_000, "a second report");
  expect(received[1]!.backToSourceBytes).toBe(0n);
  expect(received[1]!.activePeers).toBe(2);
});
