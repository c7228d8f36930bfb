/** Role and permission shapes (Dragonfly's `{role, permissions[{object, action}]}`). */
import { z } from "@hono/zod-openapi";
import { text } from "../schemas.ts";

/** The API groups permissions name. */
export const API_GROUPS = [
  "users",
  "roles",
  "permissions",
  "personal-access-tokens",
  "tenants",
  "clusters",
  "scheduler-clusters",
  "schedulers",
  "scheduler-features",
  "seed-peer-clusters",
  "seed-peers",
  "peers",
  "configs",
  "jobs",
  "applications",
] as const;

/** One permission. */
export const Permission = z.object({ object: z.enum(API_GROUPS), action: z.enum(["read", "*"]) }).openapi("Permission");

/** A role name. */
export const roleName = () => text(64).regex(/^[a-z][a-z0-9_-]*$/, "Must be lower-case letters, digits, '-' or '_'");

/** Body of POST /roles. */
export const CreateRole = z.object({ role: roleName(), permissions: z.array(Permission).max(100) }).openapi("CreateRoleRequest");

/** Body of POST and DELETE /roles/{role}/permissions. */
export const RolePermissions = z.object({ permissions: z.array(Permission).min(1).max(100) }).openapi("RolePermissionsRequest");

/** A role with its permissions. */
export const Role = z.object({ role: z.string(), builtin: z.boolean(), permissions: z.array(Permission) }).openapi("Role");

/** `{role}` path parameter. */
export const RoleParams = z.object({ role: roleName().openapi({ param: { name: "role", in: "path" } }) });
