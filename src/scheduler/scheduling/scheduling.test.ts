import { expect, test } from "bun:test";
import { createLogger, setLogLevel } from "../../common/log.ts";
import { PeerEvent } from "../resource/peer.ts";
import { createResource } from "../resource/resource.ts";
import { addHost, addPeer, TO_BACK_TO_SOURCE, TO_SUCCEEDED } from "../testing.ts";
import { jittered, Scheduling } from "./scheduling.ts";
import { SeedPeers } from "./seed-peer.ts";
import { settingsFromConfig } from "./settings.ts";
import { loadSchedulerConfig } from "../config.ts";

setLogLevel("error");

function setup() {
  const resource = createResource();
  const settings = settingsFromConfig(loadSchedulerConfig());
  const log = createLogger();
  const seeds = new SeedPeers({
    hosts: resource.hosts,
    client: { downloadTask: async () => {}, close: () => {} },
    log,
    failedTimeoutMs: 1000,
    registerTimeoutMs: 1000,
    hotTaskPeerThreshold: 0,
  });
  return { resource, settings, scheduling: new Scheduling({ settings, seeds, log }) };
}

test("jittered() stays within [0.75, 1.25) of the interval", () => {
  for (let i = 0; i < 1000; i++) {
    const d = jittered(500);
    expect(d).toBeGreaterThanOrEqual(375);
    expect(d).toBeLessThan(625);
  }
});

test("findCandidateParents() returns at most candidateParentLimit parents", () => {
  const { resource, settings, scheduling } = setup();
  settings.peerChildLimit = 0;
  const child = addPeer(resource, "child", "t", addHost(resource, "c"), [PeerEvent.RegisterNormal]);
  for (let i = 0; i < 10; i++) addPeer(resource, `p${i}`, "t", addHost(resource, `h${i}`), TO_SUCCEEDED);
  expect(scheduling.findCandidateParents(child, new Set(["child"])).length).toBe(3);
  settings.candidateParentLimit = 5;
  expect(scheduling.findCandidateParents(child, new Set(["child"])).length).toBe(5);
});

test("findCandidateParents() skips hosts at their upload limit unless nothing else is left", () => {
  const { resource, settings, scheduling } = setup();
  settings.peerChildLimit = 0;
  settings.normalLoadLimit = 2;
  const child = addPeer(resource, "child", "t", addHost(resource, "c"), [PeerEvent.RegisterNormal]);
  const full = addPeer(resource, "full", "t", addHost(resource, "f"), TO_SUCCEEDED);
  full.host.concurrentUploadCount = 2;
  const open = addPeer(resource, "open", "t", addHost(resource, "o"), TO_SUCCEEDED);
  expect(scheduling.findCandidateParents(child, new Set(["child"])).map((p) => p.id)).toEqual(["open"]);
  open.host.concurrentUploadCount = 2;
  expect(scheduling.findCandidateParents(child, new Set(["child"])).map((p) => p.id).sort()).toEqual(["full", "open"]);
});

test("findCandidateParents() leaves out a seed that has its share of children while a peer can relay", () => {
  const { resource, settings, scheduling } = setup();
  const seed = addPeer(resource, "seed", "t", addHost(resource, "s", { type: 1 }), TO_BACK_TO_SOURCE);
  const first = addPeer(resource, "first", "t", addHost(resource, "a"), [PeerEvent.RegisterNormal]);
  expect(scheduling.findCandidateParents(first, new Set(["first"])).map((p) => p.id)).toEqual(["seed"]);
  first.task.addPeerEdges([seed], first);
  const second = addPeer(resource, "second", "t", addHost(resource, "b"), [PeerEvent.RegisterNormal]);
  expect(scheduling.findCandidateParents(second, new Set(["second"])).map((p) => p.id)).toEqual(["first"]);
  // Another seed joining the task is not counted against the limit and may still use the seed.
  const seed2 = addPeer(resource, "seed2", "t", addHost(resource, "s2", { type: 1 }), [PeerEvent.RegisterNormal]);
  expect(scheduling.findCandidateParents(seed2, new Set(["seed2"])).map((p) => p.id).sort()).toEqual(["first", "seed"]);
  settings.seedChildLimit = 0;
  expect(scheduling.findCandidateParents(second, new Set(["second"])).map((p) => p.id).sort()).toEqual(["first", "seed"]);
});

test("findCandidateParents() chains a first wave: a peer serving its share of children is left out while others can", () => {
  const { resource, settings, scheduling } = setup();
  const seed = addPeer(resource, "seed", "t", addHost(resource, "s", { type: 1 }), TO_BACK_TO_SOURCE);
  let previous = seed;
  for (let i = 1; i <= 4; i++) {
    const peer = addPeer(resource, `p${i}`, "t", addHost(resource, `h${i}`), [PeerEvent.RegisterNormal]);
    const parents = scheduling.findCandidateParents(peer, new Set([peer.id]));
    expect(parents.map((p) => p.id)).toEqual([previous.id]);
    peer.task.addPeerEdges(parents, peer);
    previous = peer;
  }
  // When every parent has its share, the child still gets them rather than nobody.
  for (let i = 5; i <= 6; i++) {
    const peer = addPeer(resource, `p${i}`, "t", addHost(resource, `h${i}`), [PeerEvent.RegisterNormal]);
    peer.task.addPeerEdges(scheduling.findCandidateParents(peer, new Set([peer.id])), peer);
  }
  const late = addPeer(resource, "late", "t", addHost(resource, "late"), [PeerEvent.RegisterNormal]);
  expect(scheduling.findCandidateParents(late, new Set(["late"])).length).toBe(1);
  settings.peerChildLimit = 0;
  expect(scheduling.findCandidateParents(late, new Set(["late"])).length).toBe(3);
});
