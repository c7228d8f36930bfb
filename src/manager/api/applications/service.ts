/** Applications: per-tenant download priority rules, also served to schedulers by ListApplications. */
import { eq } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { application } from "../../db/schema.ts";
import { guard } from "../../errors.ts";
import { defined, getOwned, pageOf, pickTenant, scoped, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import type { CreateApplication, UpdateApplication } from "./types.ts";

/** An application row. */
export type ApplicationRow = typeof application.$inferSelect;

const LABEL = "Application";

/** Creates the application service. */
export function createApplicationService({ db, changed }: ServiceDeps) {
  const service = {
    async list(actor: Actor, query: PageRequest & { name?: string }): Promise<Page<ApplicationRow>> {
      return await pageOf(db, application, scoped(actor, application, query.name ? eq(application.name, query.name) : undefined), query);
    },
    /** Every application the actor sees, for ListApplications. */
    async all(actor: Actor): Promise<ApplicationRow[]> {
      return await db.select().from(application).where(scoped(actor, application)).orderBy(application.id);
    },
    async get(actor: Actor, id: number): Promise<ApplicationRow> {
      return await getOwned<ApplicationRow>(db, application, actor, id, LABEL);
    },
    async create(actor: Actor, input: z.output<typeof CreateApplication>): Promise<ApplicationRow> {
      const tenantId = pickTenant(actor, input.tenant_id);
      const [row] = await guard(LABEL, () =>
        db
          .insert(application)
          .values({
            tenant_id: tenantId,
            name: input.name,
            url: input.url ?? "",
            bio: input.bio ?? "",
            priority: input.priority ?? { value: 0 },
            user_id: input.user_id ?? actor.userId,
          })
          .returning(),
      );
      changed();
      return row!;
    },
    async update(actor: Actor, id: number, input: z.output<typeof UpdateApplication>): Promise<ApplicationRow> {
      await service.get(actor, id);
      const [row] = await guard(LABEL, () =>
        db
          .update(application)
          .set({ ...defined({ name: input.name, url: input.url, bio: input.bio, priority: input.priority, user_id: input.user_id }), updated_at: new Date() })
          .where(eq(application.id, id))
          .returning(),
      );
      changed();
      return row!;
    },
    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      await db.delete(application).where(eq(application.id, id));
      changed();
    },
  };
  return service;
}
