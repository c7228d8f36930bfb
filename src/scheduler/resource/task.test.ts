import { expect, test } from "bun:test";
import { SizeScope } from "../../gen/common/v2/common_pb.ts";
import { addHost, addPeer, TO_BACK_TO_SOURCE, TO_RUNNING } from "../testing.ts";
import { PeerEvent } from "./peer.ts";
import { createResource } from "./resource.ts";
import { Task } from "./task.ts";

test("Task.sizeScope() follows Dragonfly: unknown, empty, tiny ≤128 B, one piece small, else normal", () => {
  const task = new Task("t");
  expect(task.sizeScope()).toBe(SizeScope.UNKNOW);
  task.setSize(0, 4 << 20, undefined);
  expect(task.sizeScope()).toBe(SizeScope.EMPTY);
  task.setSize(128, undefined, undefined);
  expect(task.sizeScope()).toBe(SizeScope.TINY);
  task.setSize(129, undefined, undefined);
  expect(task.sizeScope()).toBe(SizeScope.SMALL);
  task.setSize(10 << 20, undefined, undefined);
  expect(task.totalPieceCount).toBe(3);
  expect(task.sizeScope()).toBe(SizeScope.NORMAL);
});

test("edges raise the parent host's counters and removing them restores the counters", () => {
  const resource = createResource();
  const a = addHost(resource, "a");
  const b = addHost(resource, "b");
  const parent = addPeer(resource, "p", "t", a, TO_BACK_TO_SOURCE);
  const child = addPeer(resource, "c", "t", b, [PeerEvent.RegisterNormal]);
  const task = parent.task;
  task.setSize(64 << 20, 4 << 20, undefined);
  expect(task.addPeerEdges([parent], child).map((p) => p.id)).toEqual(["p"]);
  expect(a.concurrentUploadCount).toBe(1);
  expect(a.uploadCount).toBe(1);
  expect(a.txBandwidth).toBe((4 << 20) * 8 * 8);
  expect(a.concurrentUploadPieceCount).toBe(8);
  expect(a.uploadContentLength).toBe(64 << 20);
  child.event(PeerEvent.Download);
  child.event(PeerEvent.DownloadSucceeded);
  expect(task.dag.inDegree("c")).toBe(0);
  expect(a.concurrentUploadCount).toBe(0);
  expect(a.txBandwidth).toBe(0);
  expect(a.concurrentUploadPieceCount).toBe(0);
  expect(a.uploadContentLength).toBe(0);
  expect(a.uploadCount).toBe(1);
});

test("peer events keep the back-to-source set and failed count as Dragonfly does", () => {
  const resource = createResource();
  const host = addHost(resource, "a");
  const peer = addPeer(resource, "p", "t", host, TO_BACK_TO_SOURCE);
  expect(peer.task.backToSourcePeers.has("p")).toBe(true);
  peer.event(PeerEvent.DownloadFailed);
  expect(peer.task.peerFailedCount).toBe(1);
  const other = addPeer(resource, "q", "t", host, TO_RUNNING);
  other.event(PeerEvent.DownloadSucceeded);
  expect(peer.task.peerFailedCount).toBe(0);
  peer.event(PeerEvent.Leave);
  expect(peer.task.backToSourcePeers.has("p")).toBe(false);
});

test("PeerManager.delete() removes the peer from its task and host and returns its children", () => {
  const resource = createResource();
  const a = addHost(resource, "a");
  const b = addHost(resource, "b");
  const parent = addPeer(resource, "p", "t", a, TO_BACK_TO_SOURCE);
  const child = addPeer(resource, "c", "t", b, TO_RUNNING);
  parent.task.addPeerEdges([parent], child);
  expect(resource.peers.delete("p").map((p) => p.id)).toEqual(["c"]);
  expect(resource.peers.load("p")).toBeUndefined();
  expect(a.peers.size).toBe(0);
  expect(parent.task.dag.hasVertex("p")).toBe(false);
  expect(parent.task.dag.inDegree("c")).toBe(0);
  expect(a.concurrentUploadCount).toBe(0);
});
