/** Roles and permissions. Built-in roles (root, admin, guest) cannot be changed or removed. */
import { and, eq, inArray, or } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import { role, rolePermission } from "../../db/schema.ts";
import { FailedPrecondition, guard, NotFound } from "../../errors.ts";
import type { ServiceDeps } from "../deps.ts";
import { API_GROUPS, type CreateRole, type Permission } from "./types.ts";

type PermissionValue = z.output<typeof Permission>;

/** Creates the role service; `invalidate` drops cached actors after changes. */
export function createRoleService({ db }: ServiceDeps, invalidate: () => void) {
  async function load(name: string) {
    const [row] = await db.select().from(role).where(eq(role.name, name));
    if (!row) throw new NotFound(`Role "${name}" not found`);
    return row;
  }
  async function mutable(name: string) {
    const row = await load(name);
    if (row.builtin) throw new FailedPrecondition(`Role "${name}" is built in`);
    return row;
  }
  const service = {
    async list() {
      const [roles, permissions] = await Promise.all([db.select().from(role).orderBy(role.name), db.select().from(rolePermission)]);
      return roles.map((r) => ({
        role: r.name,
        builtin: r.builtin,
        permissions: permissions.filter((p) => p.role === r.name).map((p) => ({ object: p.object, action: p.action })),
      }));
    },
    async get(name: string) {
      const row = await load(name);
      const permissions = await db.select().from(rolePermission).where(eq(rolePermission.role, name));
      return { role: row.name, builtin: row.builtin, permissions: permissions.map((p) => ({ object: p.object, action: p.action })) };
    },
    async create(input: z.output<typeof CreateRole>) {
      await guard("Role", () =>
        db.transaction(async (tx) => {
          await tx.insert(role).values({ name: input.role });
          if (input.permissions.length > 0) {
            await tx.insert(rolePermission).values(input.permissions.map((p) => ({ role: input.role, ...p }))).onConflictDoNothing();
          }
        }),
      );
      return await service.get(input.role);
    },
    async remove(name: string): Promise<void> {
      await mutable(name);
      await db.delete(role).where(eq(role.name, name));
      invalidate();
    },
    async addPermissions(name: string, permissions: PermissionValue[]) {
      await mutable(name);
      await db.insert(rolePermission).values(permissions.map((p) => ({ role: name, ...p }))).onConflictDoNothing();
      invalidate();
      return await service.get(name);
    },
    async removePermissions(name: string, permissions: PermissionValue[]) {
      await mutable(name);
      await db
        .delete(rolePermission)
        .where(and(eq(rolePermission.role, name), or(...permissions.map((p) => and(eq(rolePermission.object, p.object), eq(rolePermission.action, p.action))))));
      invalidate();
      return await service.get(name);
    },
    /** Every permission that can be granted. */
    permissions(): PermissionValue[] {
      return API_GROUPS.flatMap((object) => [
        { object, action: "read" as const },
        { object, action: "*" as const },
      ]);
    },
    /** Whether every named role exists. */
    async exists(names: string[]): Promise<boolean> {
      if (names.length === 0) return true;
      const rows = await db.select({ name: role.name }).from(role).where(inArray(role.name, names));
      return rows.length === new Set(names).size;
    },
  };
  return service;
}
