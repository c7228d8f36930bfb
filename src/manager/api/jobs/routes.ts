/** REST routes of /api/v1/jobs and /oapi/v1/jobs. */
import { defineRoute, type ApiApp, type RouteAuth, type RouteDeps } from "../route.ts";
import { IdParams, PageQuery } from "../schemas.ts";
import type { createJobService } from "./service.ts";
import { CreateJob, Job, JobFilter, UpdateJob } from "./types.ts";

/** Registers the routes under a base path with an auth mode. */
export function jobRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createJobService>, base: string, auth: RouteAuth, tag: string): void {
  defineRoute(app, deps, { method: "post", path: base, tag, summary: "Create a job (preheat, get_task, delete_task, sync_peers, gc)", auth, body: CreateJob, response: Job },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: base, tag, summary: "List jobs, newest first", auth, query: PageQuery.extend(JobFilter.shape), response: Job, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${base}/{id}`, tag, summary: "Get a job", auth, params: IdParams, response: Job },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${base}/{id}`, tag, summary: "Update a job's bio or user", auth, params: IdParams, body: UpdateJob, response: Job },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${base}/{id}`, tag, summary: "Delete a job", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
}
