import { expect, test } from "bun:test";
import { PeerEvent } from "../resource/peer.ts";
import { createResource } from "../resource/resource.ts";
import { addHost, addPeer, TO_BACK_TO_SOURCE } from "../testing.ts";
import { isBadParent, isCostOutlier } from "./bad-parent.ts";

test("isCostOutlier(): fewer than 2 samples never are", () => {
  expect(isCostOutlier([])).toBe(false);
  expect(isCostOutlier([1e12])).toBe(false);
});

test("isCostOutlier(): below 30 samples the newest must exceed 20 × the mean of the others", () => {
  expect(isCostOutlier([10, 10, 10, 200])).toBe(false);
  expect(isCostOutlier([10, 10, 10, 201])).toBe(true);
});

test("isCostOutlier(): from 30 samples the 3σ rule applies", () => {
  const steady = Array.from({ length: 29 }, (_, i) => (i % 2 === 0 ? 9 : 11));
  // mean 10 (about), σ ≈ 1: 14 is beyond 3σ though far below 20 × mean.
  expect(isCostOutlier([...steady, 14])).toBe(true);
  expect(isCostOutlier([...steady, 12])).toBe(false);
  // The same 14 with fewer samples is judged by the 20 × mean rule.
  expect(isCostOutlier([...steady.slice(0, 10), 14])).toBe(false);
});

test("isBadParent(): only Running, BackToSource, Succeeded and scheduled ReceivedNormal peers qualify", () => {
  const resource = createResource();
  const host = addHost(resource, "h");
  expect(isBadParent(addPeer(resource, "pending", "t", host))).toBe(true);
  const received = addPeer(resource, "received", "t", host, [PeerEvent.RegisterNormal]);
  expect(isBadParent(received)).toBe(true);
  const source = addPeer(resource, "source", "t", addHost(resource, "s"), TO_BACK_TO_SOURCE);
  received.task.addPeerEdges([source], received);
  expect(isBadParent(received)).toBe(false);
  expect(isBadParent(addPeer(resource, "running", "t", host, [PeerEvent.RegisterNormal, PeerEvent.Download]))).toBe(false);
  expect(isBadParent(addPeer(resource, "bts", "t", host, TO_BACK_TO_SOURCE))).toBe(false);
  expect(isBadParent(addPeer(resource, "failed", "t", host, [PeerEvent.DownloadFailed]))).toBe(true);
});

test("isBadParent(): judges the parent's upload costs as its children measured them", () => {
  const resource = createResource();
  const parent = addPeer(resource, "p", "t", addHost(resource, "h"), TO_BACK_TO_SOURCE);
  // Slow own downloads (from the origin) do not make a good uploader bad.
  for (const cost of [1, 1, 1, 1000]) parent.pieceCosts.push(cost);
  expect(isBadParent(parent)).toBe(false);
  for (const cost of [1, 1, 1, 1000]) parent.uploadCosts.push(cost);
  expect(isBadParent(parent)).toBe(true);
});
