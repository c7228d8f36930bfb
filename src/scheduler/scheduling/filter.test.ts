import { expect, test } from "bun:test";
import { PeerEvent } from "../resource/peer.ts";
import { createResource } from "../resource/resource.ts";
import { addHost, addPeer, TO_BACK_TO_SOURCE, TO_RUNNING, TO_SUCCEEDED } from "../testing.ts";
import { filterCandidateParents, parentRejection } from "./filter.ts";

function setup() {
  const resource = createResource();
  const childHost = addHost(resource, "child-host");
  const child = addPeer(resource, "child", "t", childHost, [PeerEvent.RegisterNormal]);
  return { resource, child, childHost };
}

test("the filter names why each peer is rejected", () => {
  const { resource, child, childHost } = setup();
  const ok = addPeer(resource, "ok", "t", addHost(resource, "a"), TO_BACK_TO_SOURCE);
  const blocked = addPeer(resource, "blocked", "t", addHost(resource, "b"), TO_BACK_TO_SOURCE);
  const noShare = addPeer(resource, "noshare", "t", addHost(resource, "c", { disableShared: true }), TO_BACK_TO_SOURCE);
  const sameHost = addPeer(resource, "samehost", "t", childHost, TO_BACK_TO_SOURCE);
  const orphan = addPeer(resource, "orphan", "t", addHost(resource, "d"), TO_RUNNING);
  const pending = addPeer(resource, "pending", "t", addHost(resource, "e"), [PeerEvent.RegisterNormal]);
  const blocklist = new Set(["child", "blocked"]);
  expect(parentRejection(ok, child, blocklist)).toBeUndefined();
  expect(parentRejection(child, child, blocklist)).toBe("blocklisted");
  expect(parentRejection(blocked, child, blocklist)).toBe("blocklisted");
  expect(parentRejection(noShare, child, blocklist)).toBe("disable-shared");
  expect(parentRejection(sameHost, child, blocklist)).toBe("same-host");
  expect(parentRejection(orphan, child, blocklist)).toBe("no-source");
  expect(parentRejection(pending, child, blocklist)).toBe("no-source");
  expect(filterCandidateParents(child, blocklist, 15).map((p) => p.id)).toEqual(["ok"]);
});

test("a downloading seed and running peers that have parents are valid parents", () => {
  const { resource, child } = setup();
  const seed = addPeer(resource, "seed", "t", addHost(resource, "s", { type: 1 }), TO_RUNNING);
  const fed = addPeer(resource, "fed", "t", addHost(resource, "a"), TO_RUNNING);
  seed.task.addPeerEdges([seed], fed);
  const ids = filterCandidateParents(child, new Set(["child"]), 15).map((p) => p.id).sort();
  expect(ids).toEqual(["fed", "seed"]);
});

test("the filter drops descendants of the child (no cycles) and current parents", () => {
  const { resource, child } = setup();
  const source = addPeer(resource, "source", "t", addHost(resource, "a"), TO_BACK_TO_SOURCE);
  const grandchild = addPeer(resource, "grandchild", "t", addHost(resource, "b"), TO_RUNNING);
  child.task.addPeerEdges([source], child);
  child.task.addPeerEdges([child], grandchild);
  expect(filterCandidateParents(child, new Set(["child"]), 15).map((p) => p.id)).toEqual([]);
  child.task.deletePeerInEdges("child");
  expect(filterCandidateParents(child, new Set(["child"]), 15).map((p) => p.id)).toEqual(["source"]);
});

test("the filter samples at most filterParentLimit eligible peers, seeds always included", () => {
  const { resource, child } = setup();
  addPeer(resource, "seed", "t", addHost(resource, "s", { type: 1 }), TO_SUCCEEDED);
  for (let i = 0; i < 30; i++) addPeer(resource, `p${i}`, "t", addHost(resource, `h${i}`), TO_SUCCEEDED);
  for (let i = 0; i < 30; i++) addPeer(resource, `bad${i}`, "t", addHost(resource, `x${i}`), [PeerEvent.RegisterNormal]);
  const seen = new Set<string>();
  for (let round = 0; round < 20; round++) {
    const picked = filterCandidateParents(child, new Set(["child"]), 5);
    expect(picked.length).toBe(5);
    expect(picked[0]!.id).toBe("seed");
    for (const p of picked) {
      expect(p.id.startsWith("bad")).toBe(false);
      seen.add(p.id);
    }
  }
  expect(seen.size).toBeGreaterThan(15);
});
