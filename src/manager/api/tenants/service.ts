/** Tenants and their members. Root manages them; members see the tenants they belong to. */
import { and, count, eq, inArray } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { application, job, personalAccessToken, schedulerCluster, seedPeerCluster, tenant, user, userTenant } from "../../db/schema.ts";
import { FailedPrecondition, guard, NotFound, PermissionDenied } from "../../errors.ts";
import { defined, pageOf, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import type { CreateTenant, UpdateTenant } from "./types.ts";

/** A tenant row. */
export type TenantRow = typeof tenant.$inferSelect;

const LABEL = "Tenant";

function requireRoot(actor: Actor): void {
  if (!actor.root) throw new PermissionDenied('Permission denied: "*" on "tenants"');
}

/** Creates the tenant service; `invalidate` drops cached actors after membership changes. */
export function createTenantService({ db }: ServiceDeps, invalidate: () => void) {
  const service = {
    async list(actor: Actor, query: PageRequest): Promise<Page<TenantRow>> {
      const where = actor.root ? undefined : actor.tenantIds.length > 0 ? inArray(tenant.id, [...actor.tenantIds]) : eq(tenant.id, -1);
      return await pageOf(db, tenant, where, query);
    },
    async get(actor: Actor, id: number): Promise<TenantRow> {
      const [row] = await db.select().from(tenant).where(eq(tenant.id, id));
      if (!row || !(actor.root || actor.tenantIds.includes(id))) throw new NotFound(`${LABEL} "${id}" not found`);
      return row;
    },
    async create(actor: Actor, input: z.output<typeof CreateTenant>): Promise<TenantRow> {
      requireRoot(actor);
      const [row] = await guard(LABEL, () => db.insert(tenant).values({ name: input.name, bio: input.bio ?? "" }).returning());
      return row!;
    },
    async update(actor: Actor, id: number, input: z.output<typeof UpdateTenant>): Promise<TenantRow> {
      await service.get(actor, id);
      requireRoot(actor);
      const [row] = await guard(LABEL, () => db.update(tenant).set({ ...defined(input), updated_at: new Date() }).where(eq(tenant.id, id)).returning());
      return row!;
    },
    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      requireRoot(actor);
      if (id === 1) throw new FailedPrecondition("The default tenant cannot be deleted");
      for (const table of [schedulerCluster, seedPeerCluster, application, job, personalAccessToken] as const) {
        const [owned] = await db.select({ n: count() }).from(table).where(eq(table.tenant_id, id));
        if ((owned?.n ?? 0) > 0) throw new FailedPrecondition(`${LABEL} "${id}" still owns resources`);
      }
      await db.delete(tenant).where(eq(tenant.id, id));
      invalidate();
    },
    /** Members of a tenant. */
    async users(actor: Actor, id: number): Promise<{ id: number; name: string; email: string }[]> {
      await service.get(actor, id);
      return await db
        .select({ id: user.id, name: user.name, email: user.email })
        .from(userTenant)
        .innerJoin(user, eq(user.id, userTenant.user_id))
        .where(eq(userTenant.tenant_id, id))
        .orderBy(user.id);
    },
    async addUser(actor: Actor, id: number, userId: number): Promise<void> {
      await service.get(actor, id);
      requireRoot(actor);
      const [row] = await db.select({ id: user.id }).from(user).where(eq(user.id, userId));
      if (!row) throw new NotFound(`User "${userId}" not found`);
      await db.insert(userTenant).values({ user_id: userId, tenant_id: id }).onConflictDoNothing();
      invalidate();
    },
    async removeUser(actor: Actor, id: number, userId: number): Promise<void> {
      await service.get(actor, id);
      requireRoot(actor);
      await db.delete(userTenant).where(and(eq(userTenant.tenant_id, id), eq(userTenant.user_id, userId)));
      invalidate();
    },
  };
  return service;
}
