/** REST routes of /api/v1/applications. */
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { IdParams, PageQuery } from "../schemas.ts";
import type { createApplicationService } from "./service.ts";
import { Application, ApplicationFilter, CreateApplication, UpdateApplication } from "./types.ts";

const BASE = "/api/v1/applications";
const TAG = "Applications";
const auth = { group: "applications" };

/** Registers the routes. */
export function applicationRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createApplicationService>): void {
  defineRoute(app, deps, { method: "post", path: BASE, tag: TAG, summary: "Create an application", auth, body: CreateApplication, response: Application },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List applications", auth, query: PageQuery.extend(ApplicationFilter.shape), response: Application, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get an application", auth, params: IdParams, response: Application },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update an application", auth, params: IdParams, body: UpdateApplication, response: Application },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}`, tag: TAG, summary: "Delete an application", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
}
