/** REST routes of /api/v1/clusters and /oapi/v1/clusters. */
import { defineRoute, type ApiApp, type RouteAuth, type RouteDeps } from "../route.ts";
import { IdParams, PageQuery } from "../schemas.ts";
import type { createClusterService } from "./service.ts";
import { Cluster, ClusterFilter, CreateCluster, UpdateCluster } from "./types.ts";

/** Registers the routes under a base path with an auth mode. */
export function clusterRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createClusterService>, base: string, auth: RouteAuth, tag: string): void {
  defineRoute(app, deps, { method: "post", path: base, tag, summary: "Create a cluster", auth, body: CreateCluster, response: Cluster },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: base, tag, summary: "List clusters", auth, query: PageQuery.extend(ClusterFilter.shape), response: Cluster, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${base}/{id}`, tag, summary: "Get a cluster", auth, params: IdParams, response: Cluster },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${base}/{id}`, tag, summary: "Update a cluster", auth, params: IdParams, body: UpdateCluster, response: Cluster },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${base}/{id}`, tag, summary: "Delete a cluster", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
}
