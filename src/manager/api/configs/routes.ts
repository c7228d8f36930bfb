/** REST routes of /api/v1/configs. */
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { IdParams, PageQuery } from "../schemas.ts";
import type { createConfigService } from "./service.ts";
import { Config, ConfigFilter, CreateConfig, UpdateConfig } from "./types.ts";

const BASE = "/api/v1/configs";
const TAG = "Configs";
const auth = { group: "configs" };

/** Registers the routes. */
export function configRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createConfigService>): void {
  defineRoute(app, deps, { method: "post", path: BASE, tag: TAG, summary: "Create a config", auth, body: CreateConfig, response: Config },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List configs", auth, query: PageQuery.extend(ConfigFilter.shape), response: Config, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get a config", auth, params: IdParams, response: Config },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update a config", auth, params: IdParams, body: UpdateConfig, response: Config },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}`, tag: TAG, summary: "Delete a config", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
}
