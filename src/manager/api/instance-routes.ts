/** REST routes shared by schedulers, seed peers and peers. */
import type { z } from "@hono/zod-openapi";
import { defineRoute, type ApiApp, type RouteDeps } from "./route.ts";
import { IdParams, PageQuery } from "./schemas.ts";
import type { InstanceService } from "./instances.ts";

/** What differs between member kinds. */
export interface InstanceRouteSpec {
  base: string;
  tag: string;
  group: string;
  noun: string;
  create: z.ZodObject;
  update?: z.ZodObject;
  item: z.ZodType;
  filter: z.ZodObject;
  /** Maps a validated body to columns. */
  toRow?: (body: Record<string, unknown>) => Record<string, unknown>;
}

/** Registers create, list, get, (update) and delete. */
export function instanceRoutes<Row>(app: ApiApp, deps: RouteDeps, service: InstanceService<Row>, spec: InstanceRouteSpec): void {
  const { base, tag, noun } = spec;
  const auth = { group: spec.group };
  const toRow = spec.toRow ?? ((body) => body);
  defineRoute(app, deps, { method: "post", path: base, tag, summary: `Create a ${noun}`, auth, body: spec.create, response: spec.item },
    ({ actor, body }) => service.create(actor!, toRow(body as Record<string, unknown>)));
  defineRoute(app, deps, { method: "get", path: base, tag, summary: `List ${noun}s`, auth, query: PageQuery.extend(spec.filter.shape), response: spec.item, list: true },
    ({ actor, query }) => {
      const { page, per_page, ...filters } = query as { page: number; per_page: number } & Record<string, string | number | undefined>;
      return service.list(actor!, { page, per_page }, filters);
    });
  defineRoute(app, deps, { method: "get", path: `${base}/{id}`, tag, summary: `Get a ${noun}`, auth, params: IdParams, response: spec.item },
    ({ actor, params }) => service.get(actor!, params.id));
  if (spec.update) {
    defineRoute(app, deps, { method: "patch", path: `${base}/{id}`, tag, summary: `Update a ${noun}`, auth, params: IdParams, body: spec.update, response: spec.item },
      ({ actor, params, body }) => service.update(actor!, params.id, toRow(body as Record<string, unknown>)));
  }
  defineRoute(app, deps, { method: "delete", path: `${base}/{id}`, tag, summary: `Delete a ${noun}`, auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
}
