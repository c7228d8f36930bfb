/** Who is acting: a signed-in user, a personal access token, or an anonymous RPC caller. */
import { inArray, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { PermissionDenied } from "../errors.ts";

/** API permission actions, as Dragonfly's RBAC: `read` for GET, `*` for writes. */
export type Action = "read" | "*";

/** The caller of a route or RPC, resolved once per request. */
export interface Actor {
  readonly kind: "user" | "token" | "anonymous";
  readonly userId: number | null;
  readonly name: string;
  /** Root acts across every tenant and holds every permission. */
  readonly root: boolean;
  readonly roles: readonly string[];
  /** Tenants acted within, first = default for new rows. Ignored for root. */
  readonly tenantIds: readonly number[];
  /** `group:action` pairs. */
  readonly permissions: ReadonlySet<string>;
  /** For tokens: its id and scopes. */
  readonly tokenId?: number;
  readonly scopes?: readonly string[];
}

/** Whether the actor may perform `action` on an API group. */
export function can(actor: Actor, group: string, action: Action): boolean {
  if (actor.root) return true;
  if (actor.permissions.has(`${group}:*`)) return true;
  return action === "read" && actor.permissions.has(`${group}:read`);
}

/** Throws PermissionDenied unless the actor may act. */
export function authorize(actor: Actor, group: string, action: Action): void {
  if (!can(actor, group, action)) throw new PermissionDenied(`Permission denied: "${action}" on "${group}"`);
}

/** A WHERE clause restricting a tenant column to the actor's tenants; undefined for root. */
export function tenantScope(actor: Actor, column: PgColumn): SQL | undefined {
  if (actor.root) return undefined;
  if (actor.tenantIds.length === 0) return sql`false`;
  return inArray(column, [...actor.tenantIds]);
}

/** Whether the actor sees rows of a tenant. */
export function seesTenant(actor: Actor, tenantId: number): boolean {
  return actor.root || actor.tenantIds.includes(tenantId);
}

/** An anonymous RPC caller confined to one tenant. */
export function anonymousActor(tenantId: number): Actor {
  return { kind: "anonymous", userId: null, name: "anonymous", root: false, roles: [], tenantIds: [tenantId], permissions: new Set() };
}

/** An actor acting as root, for internal work and tests. */
export const SYSTEM_ACTOR: Actor = {
  kind: "user",
  userId: null,
  name: "system",
  root: true,
  roles: ["root"],
  tenantIds: [],
  permissions: new Set(),
};
