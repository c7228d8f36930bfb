/** REST routes of /api/v1/seed-peer-clusters. */
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { id, IdParams, PageQuery } from "../schemas.ts";
import type { createSeedPeerClusterService } from "./service.ts";
import { CreateSeedPeerCluster, SeedPeerCluster, SeedPeerClusterFilter, UpdateSeedPeerCluster } from "./types.ts";

const BASE = "/api/v1/seed-peer-clusters";
const TAG = "Seed peer clusters";
const auth = { group: "seed-peer-clusters" };

/** Registers the routes. */
export function seedPeerClusterRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createSeedPeerClusterService>): void {
  defineRoute(app, deps, { method: "post", path: BASE, tag: TAG, summary: "Create a seed peer cluster", auth, body: CreateSeedPeerCluster, response: SeedPeerCluster },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List seed peer clusters", auth, query: PageQuery.extend(SeedPeerClusterFilter.shape), response: SeedPeerCluster, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get a seed peer cluster", auth, params: IdParams, response: SeedPeerCluster },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update a seed peer cluster", auth, params: IdParams, body: UpdateSeedPeerCluster, response: SeedPeerCluster },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}`, tag: TAG, summary: "Delete a seed peer cluster", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
  defineRoute(app, deps, {
    method: "put", path: `${BASE}/{id}/seed-peers/{seed_peer_id}`, tag: TAG, summary: "Move a seed peer into the cluster", auth,
    params: IdParams.extend({ seed_peer_id: id().openapi({ param: { name: "seed_peer_id", in: "path" } }) }), empty: true,
  }, ({ actor, params }) => service.addSeedPeer(actor!, params.id, params.seed_peer_id));
  defineRoute(app, deps, {
    method: "put", path: `${BASE}/{id}/scheduler-clusters/{scheduler_cluster_id}`, tag: TAG, summary: "Link a scheduler cluster", auth,
    params: IdParams.extend({ scheduler_cluster_id: id().openapi({ param: { name: "scheduler_cluster_id", in: "path" } }) }), empty: true,
  }, ({ actor, params }) => service.addSchedulerCluster(actor!, params.id, params.scheduler_cluster_id));
}
