import { expect, test } from "bun:test";
import { createLogger, setLogLevel } from "../../common/log.ts";
import { PeerEvent } from "../resource/peer.ts";
import { createResource } from "../resource/resource.ts";
import { addHost, addPeer, TO_SUCCEEDED } from "../testing.ts";
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
  const child = addPeer(resource, "child", "t", addHost(resource, "c"), [PeerEvent.RegisterNormal]);
  for (let i = 0; i < 10; i++) addPeer(resource, `p${i}`, "t", addHost(resource, `h${i}`), TO_SUCCEEDED);
  expect(scheduling.findCandidateParents(child, new Set(["child"])).length).toBe(3);
  settings.candidateParentLimit = 5;
  expect(scheduling.findCandidateParents(child, new Set(["child"])).length).toBe(5);
});

test("findCandidateParents() skips hosts at their upload limit unless nothing else is left", () => {
  const { resource, settings, scheduling } = setup();
  settings.normalLoadLimit = 2;
  const child = addPeer(resource, "child", "t", addHost(resource, "c"), [PeerEvent.RegisterNormal]);
  const full = addPeer(resource, "full", "t", addHost(resource, "f"), TO_SUCCEEDED);
  full.host.concurrentUploadCount = 2;
  const open = addPeer(resource, "open", "t", addHost(resource, "o"), TO_SUCCEEDED);
  expect(scheduling.findCandidateParents(child, new Set(["child"])).map((p) => p.id)).toEqual(["open"]);
  open.host.concurrentUploadCount = 2;
  expect(scheduling.findCandidateParents(child, new Set(["child"])).map((p) => p.id).sort()).toEqual(["full", "open"]);
});
