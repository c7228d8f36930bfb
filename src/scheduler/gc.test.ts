import { expect, test } from "bun:test";
import { createLogger, setLogLevel } from "../common/log.ts";
import { ResourceGc } from "./gc.ts";
import { PeerEvent, PeerState, type Peer } from "./resource/peer.ts";
import { createResource } from "./resource/resource.ts";
import { addHost, addPeer, TO_BACK_TO_SOURCE, TO_RUNNING, TO_SUCCEEDED, waitFor } from "./testing.ts";

setLogLevel("error");

function setup() {
  const resource = createResource();
  const released: [string, string[]][] = [];
  const gc = new ResourceGc({
    resource,
    log: createLogger(),
    releaseChildren: (parentId: string, children: Peer[]) => released.push([parentId, children.map((c) => c.id)]),
    peerGCIntervalMs: 10_000,
    peerTTLMs: 86_400_000,
    taskGCIntervalMs: 1_800_000,
    hostGCIntervalMs: 300_000,
    hostTTLMs: 3_600_000,
    pieceDownloadTimeoutMs: 1_800_000,
  });
  return { resource, gc, released };
}

test("peer GC makes failed, stalled and idle peers leave, then deletes them", () => {
  const { resource, gc, released } = setup();
  const host = addHost(resource, "h");
  const other = addHost(resource, "o");
  const failed = addPeer(resource, "failed", "t", host, [PeerEvent.DownloadFailed]);
  const stalled = addPeer(resource, "stalled", "t", host, TO_BACK_TO_SOURCE);
  const fresh = addPeer(resource, "fresh", "t", host, TO_RUNNING);
  const child = addPeer(resource, "child", "t", other, TO_RUNNING);
  stalled.task.addPeerEdges([stalled], child);
  const now = Date.now();
  stalled.pieceUpdatedAt = now - 1_800_001;
  fresh.updatedAt = now;
  child.updatedAt = now;
  expect(gc.runPeerGc(now)).toBe(0);
  expect(failed.state).toBe(PeerState.Leave);
  expect(stalled.state).toBe(PeerState.Leave);
  expect(fresh.state).toBe(PeerState.Running);
  expect(released).toContainEqual(["stalled", ["child"]]);
  expect(gc.runPeerGc(now)).toBe(2);
  expect(resource.peers.load("failed")).toBeUndefined();
  expect(resource.peers.load("stalled")).toBeUndefined();
  expect(resource.peers.load("fresh")).toBeDefined();
});

test("peer GC makes peers leave after peerTTL idle or when their host is silent beyond hostTTL", () => {
  const { resource, gc } = setup();
  const host = addHost(resource, "h");
  const idle = addPeer(resource, "idle", "t", host, TO_SUCCEEDED);
  const now = Date.now();
  idle.updatedAt = now - 86_400_001;
  const silentHost = addHost(resource, "silent");
  const orphan = addPeer(resource, "orphan", "t", silentHost, TO_SUCCEEDED);
  silentHost.updatedAt = now - 3_600_001;
  const kept = addPeer(resource, "kept", "t", host, TO_SUCCEEDED);
  gc.runPeerGc(now);
  expect(idle.state).toBe(PeerState.Leave);
  expect(orphan.state).toBe(PeerState.Leave);
  expect(kept.state).toBe(PeerState.Succeeded);
});

test("task GC deletes tasks without peers", () => {
  const { resource, gc } = setup();
  const host = addHost(resource, "h");
  addPeer(resource, "p", "busy", host, TO_SUCCEEDED);
  resource.tasks.loadOrCreate("empty", {});
  expect(gc.runTaskGc()).toBe(1);
  expect(resource.tasks.load("empty")).toBeUndefined();
  expect(resource.tasks.load("busy")).toBeDefined();
});

test("host GC deletes hosts silent for more than twice their announce interval, with their peers", () => {
  const { resource, gc, released } = setup();
  const now = Date.now();
  const stale = addHost(resource, "stale");
  stale.announceIntervalMs = 1000;
  stale.updatedAt = now - 2001;
  const live = addHost(resource, "live");
  live.announceIntervalMs = 1000;
  live.updatedAt = now - 1999;
  const legacy = addHost(resource, "legacy");
  legacy.updatedAt = now - 10_000_000;
  const parent = addPeer(resource, "parent", "t", stale, TO_SUCCEEDED);
  const child = addPeer(resource, "child", "t", live, TO_RUNNING);
  parent.task.addPeerEdges([parent], child);
  expect(gc.runHostGc(now)).toBe(1);
  expect(resource.hosts.load("stale")).toBeUndefined();
  expect(resource.hosts.load("live")).toBeDefined();
  expect(resource.hosts.load("legacy")).toBeDefined();
  expect(resource.peers.load("parent")).toBeUndefined();
  expect(released).toContainEqual(["parent", ["child"]]);
  expect(child.task.dag.inDegree("child")).toBe(0);
});

test("GC timers run on their configured intervals", async () => {
  const resource = createResource();
  const gc = new ResourceGc({
    resource,
    log: createLogger(),
    releaseChildren: () => {},
    peerGCIntervalMs: 5,
    peerTTLMs: 1,
    taskGCIntervalMs: 5,
    hostGCIntervalMs: 5,
    hostTTLMs: 1,
    pieceDownloadTimeoutMs: 1,
  });
  const host = addHost(resource, "h");
  addPeer(resource, "p", "t", host, [PeerEvent.DownloadFailed]);
  await gc.start();
  try {
    await waitFor(() => resource.tasks.size === 0, 5000, "the GC timers");
    expect(resource.peers.size).toBe(0);
    expect(resource.tasks.size).toBe(0);
  } finally {
    await gc.stop();
  }
});
