import { expect, test } from "bun:test";
import { Peer, PeerEvent } from "../resource/peer.ts";
import { createResource } from "../resource/resource.ts";
import type { Host } from "../resource/host.ts";
import { addHost, addPeer, TO_BACK_TO_SOURCE, TO_RUNNING, TO_SUCCEEDED } from "../testing.ts";
import { bandwidthLoad, childLoad, dragonflyScore, evaluateParents, locationAffinity, progress } from "./evaluator.ts";

const limit = (host: Host) => (host.isSeed ? 2000 : 200);

function setup() {
  const resource = createResource();
  const child = addPeer(resource, "child", "t", addHost(resource, "c", { idc: "idc1", location: "CN|BJ|HD" }), [PeerEvent.RegisterNormal]);
  return { resource, child };
}

test("locationAffinity() counts leading equal elements out of 5", () => {
  expect(locationAffinity("CN|BJ|HD", "CN|BJ|CY")).toBeCloseTo(0.4);
  expect(locationAffinity("CN|BJ", "cn|bj")).toBe(1);
  expect(locationAffinity("", "CN")).toBe(0);
  expect(locationAffinity("US|CA", "CN|BJ")).toBe(0);
});

test("bandwidthLoad() follows Dragonfly and is 0 when max_tx_bandwidth is unreported", () => {
  const resource = createResource();
  const silent = addHost(resource, "silent");
  expect(bandwidthLoad(silent)).toBe(0);
  const idle = addHost(resource, "idle", { maxTx: 10_000_000_000n });
  expect(bandwidthLoad(idle)).toBeCloseTo(1);
  idle.txBandwidth = 5_000_000_000;
  expect(bandwidthLoad(idle)).toBeCloseTo(0.75);
});

test("childLoad() still tells hosts apart when bandwidth is unreported", () => {
  const resource = createResource();
  const host = addHost(resource, "h");
  const values = [0, 2, 4, 8, 199, 200].map((n) => {
    host.concurrentUploadCount = n;
    return childLoad(host, 200);
  });
  expect(values[0]).toBe(1);
  expect(values[2]).toBeCloseTo(0.5);
  for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThan(values[i - 1]!);
  expect(values[5]).toBe(0);
});

test("the default evaluator prefers the less loaded of two otherwise equal parents", () => {
  const { resource, child } = setup();
  const busy = addPeer(resource, "busy", "t", addHost(resource, "a"), TO_SUCCEEDED);
  const free = addPeer(resource, "free", "t", addHost(resource, "b"), TO_SUCCEEDED);
  busy.host.concurrentUploadCount = 6;
  for (let i = 0; i < 20; i++) expect(evaluateParents([busy, free], child, "default", limit)[0]).toBe(free);
  // Dragonfly's evaluator cannot tell them apart without reported bandwidth.
  expect(dragonflyScore(busy, child)).toBe(dragonflyScore(free, child));
});

test("the default evaluator prefers the parent with the higher measured upload throughput", () => {
  const { resource, child } = setup();
  const slow = addPeer(resource, "slow", "t", addHost(resource, "a"), TO_SUCCEEDED);
  const fast = addPeer(resource, "fast", "t", addHost(resource, "b"), TO_SUCCEEDED);
  slow.host.recordUpload(4 << 20, 400e6);
  fast.host.recordUpload(4 << 20, 40e6);
  for (let i = 0; i < 20; i++) expect(evaluateParents([slow, fast], child, "default", limit).map((p) => p.id)).toEqual(["fast", "slow"]);
});

test("the default evaluator prefers more progress, the same IDC and location, and reliable uploaders", () => {
  const { resource, child } = setup();
  const behind = addPeer(resource, "behind", "t", addHost(resource, "a"), TO_BACK_TO_SOURCE);
  const ahead = addPeer(resource, "ahead", "t", addHost(resource, "b"), TO_BACK_TO_SOURCE);
  child.task.setSize(40 << 20, 4 << 20, undefined);
  for (let i = 0; i < 8; i++) ahead.finishPiece(i, 1000);
  behind.finishPiece(0, 1000);
  expect(evaluateParents([behind, ahead], child, "default", limit)[0]).toBe(ahead);

  const far = addPeer(resource, "far", "t", addHost(resource, "x", { idc: "other", location: "US" }), TO_SUCCEEDED);
  const near = addPeer(resource, "near", "t", addHost(resource, "y", { idc: "IDC1", location: "CN|BJ|HD" }), TO_SUCCEEDED);
  expect(evaluateParents([far, near], child, "default", limit)[0]).toBe(near);

  const flaky = addPeer(resource, "flaky", "t", addHost(resource, "f"), TO_SUCCEEDED);
  const solid = addPeer(resource, "solid", "t", addHost(resource, "g"), TO_SUCCEEDED);
  flaky.host.uploadFailedCount = 10;
  expect(evaluateParents([flaky, solid], child, "default", limit)[0]).toBe(solid);
});

test("a peer that finished only a range counts the pieces it holds, not the whole task", () => {
  const { resource, child } = setup();
  child.task.setSize(40 << 20, 4 << 20, undefined);
  const context = { loadLimit: limit, maxThroughput: 0, maxFinishedPieces: 2 };
  const ranged = new Peer("ranged", child.task, addHost(resource, "r"), { range: { start: 0n, length: 8n << 20n } as Peer["range"] });
  resource.peers.store(ranged);
  for (const event of TO_SUCCEEDED) ranged.event(event);
  ranged.finishPiece(0, 1000);
  ranged.finishPiece(1, 1000);
  expect(progress(ranged, context)).toBeCloseTo(0.2);
  const whole = addPeer(resource, "whole", "t", addHost(resource, "w"), TO_SUCCEEDED);
  expect(progress(whole, context)).toBe(1);
  for (let i = 0; i < 20; i++) expect(evaluateParents([ranged, whole], child, "default", limit)[0]).toBe(whole);
});

test("the dragonfly evaluator scores 0.6 load + 0.2 idc + 0.1 location + 0.1 host type", () => {
  const { resource, child } = setup();
  const seedRunning = addPeer(resource, "seed", "t", addHost(resource, "s", { type: 1, maxTx: 1_000_000_000n, idc: "idc1", location: "CN|BJ|HD" }), TO_RUNNING);
  expect(dragonflyScore(seedRunning, child)).toBeCloseTo(0.6 + 0.2 + 0.1 + 0.1);
  const normal = addPeer(resource, "n", "t", addHost(resource, "n"), TO_SUCCEEDED);
  expect(dragonflyScore(normal, child)).toBeCloseTo(0.05);
  expect(evaluateParents([normal, seedRunning], child, "dragonfly", limit)[0]).toBe(seedRunning);
});
