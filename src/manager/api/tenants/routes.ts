/** REST routes of /api/v1/tenants (Libellula's addition; Dragonfly has no tenants). */
import { z } from "@hono/zod-openapi";
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { id, IdParams, PageQuery } from "../schemas.ts";
import type { createTenantService } from "./service.ts";
import { CreateTenant, Tenant, UpdateTenant } from "./types.ts";

const BASE = "/api/v1/tenants";
const TAG = "Tenants";
const UserParams = IdParams.extend({ user_id: id().openapi({ param: { name: "user_id", in: "path" } }) });
const Member = z.object({ id: z.number().int(), name: z.string(), email: z.string() }).openapi("TenantMember");

/** Registers the routes; the service allows writes to root only. */
export function tenantRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createTenantService>): void {
  const auth = "session" as const;
  defineRoute(app, deps, { method: "post", path: BASE, tag: TAG, summary: "Create a tenant (root)", auth, body: CreateTenant, response: Tenant },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List the caller's tenants", auth, query: PageQuery, response: Tenant, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get a tenant", auth, params: IdParams, response: Tenant },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update a tenant (root)", auth, params: IdParams, body: UpdateTenant, response: Tenant },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}`, tag: TAG, summary: "Delete an empty tenant (root)", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}/users`, tag: TAG, summary: "List a tenant's members", auth, params: IdParams, response: z.array(Member) },
    ({ actor, params }) => service.users(actor!, params.id));
  defineRoute(app, deps, { method: "put", path: `${BASE}/{id}/users/{user_id}`, tag: TAG, summary: "Add a member (root)", auth, params: UserParams, empty: true },
    ({ actor, params }) => service.addUser(actor!, params.id, params.user_id));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}/users/{user_id}`, tag: TAG, summary: "Remove a member (root)", auth, params: UserParams, empty: true },
    ({ actor, params }) => service.removeUser(actor!, params.id, params.user_id));
}
