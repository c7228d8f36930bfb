/** REST routes of /api/v1/scheduler-clusters. */
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { id, IdParams, PageQuery } from "../schemas.ts";
import type { createSchedulerClusterService } from "./service.ts";
import { CreateSchedulerCluster, SchedulerCluster, SchedulerClusterFilter, UpdateSchedulerCluster } from "./types.ts";

const BASE = "/api/v1/scheduler-clusters";
const TAG = "Scheduler clusters";
const auth = { group: "scheduler-clusters" };

/** Registers the routes. */
export function schedulerClusterRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createSchedulerClusterService>): void {
  defineRoute(app, deps, { method: "post", path: BASE, tag: TAG, summary: "Create a scheduler cluster", auth, body: CreateSchedulerCluster, response: SchedulerCluster },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List scheduler clusters", auth, query: PageQuery.extend(SchedulerClusterFilter.shape), response: SchedulerCluster, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get a scheduler cluster", auth, params: IdParams, response: SchedulerCluster },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update a scheduler cluster", auth, params: IdParams, body: UpdateSchedulerCluster, response: SchedulerCluster },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}`, tag: TAG, summary: "Delete a scheduler cluster", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
  defineRoute(app, deps, {
    method: "put", path: `${BASE}/{id}/schedulers/{scheduler_id}`, tag: TAG, summary: "Move a scheduler into the cluster", auth,
    params: IdParams.extend({ scheduler_id: id().openapi({ param: { name: "scheduler_id", in: "path" } }) }), empty: true,
  }, ({ actor, params }) => service.addScheduler(actor!, params.id, params.scheduler_id));
}
