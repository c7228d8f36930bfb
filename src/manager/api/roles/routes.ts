/** REST routes of /api/v1/roles and /api/v1/permissions. */
import { z } from "@hono/zod-openapi";
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import type { createRoleService } from "./service.ts";
import { CreateRole, Permission, Role, RoleParams, RolePermissions } from "./types.ts";

const TAG = "Roles";
const auth = { group: "roles" };

/** Registers the routes. */
export function roleRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createRoleService>): void {
  defineRoute(app, deps, { method: "post", path: "/api/v1/roles", tag: TAG, summary: "Create a role", auth, body: CreateRole, response: Role },
    ({ body }) => service.create(body));
  defineRoute(app, deps, { method: "get", path: "/api/v1/roles", tag: TAG, summary: "List roles", auth, response: z.array(Role) },
    () => service.list());
  defineRoute(app, deps, { method: "get", path: "/api/v1/roles/{role}", tag: TAG, summary: "Get a role", auth, params: RoleParams, response: Role },
    ({ params }) => service.get(params.role));
  defineRoute(app, deps, { method: "delete", path: "/api/v1/roles/{role}", tag: TAG, summary: "Delete a role", auth, params: RoleParams, empty: true },
    ({ params }) => service.remove(params.role));
  defineRoute(app, deps, { method: "post", path: "/api/v1/roles/{role}/permissions", tag: TAG, summary: "Grant permissions", auth, params: RoleParams, body: RolePermissions, response: Role },
    ({ params, body }) => service.addPermissions(params.role, body.permissions));
  defineRoute(app, deps, { method: "delete", path: "/api/v1/roles/{role}/permissions", tag: TAG, summary: "Revoke permissions", auth, params: RoleParams, body: RolePermissions, response: Role },
    ({ params, body }) => service.removePermissions(params.role, body.permissions));
  defineRoute(app, deps, { method: "get", path: "/api/v1/permissions", tag: "Permissions", summary: "List every permission", auth: { group: "permissions" }, response: z.array(Permission) },
    async () => service.permissions());
}
