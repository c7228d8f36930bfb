/** Global configs; readable with `configs:read`, writable by root. */
import { eq } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { config } from "../../db/schema.ts";
import { guard, NotFound } from "../../errors.ts";
import { defined, pageOf, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import type { CreateConfig, UpdateConfig } from "./types.ts";

/** A config row. */
export type ConfigRow = typeof config.$inferSelect;

const LABEL = "Config";

/** Creates the config service. */
export function createConfigService({ db }: ServiceDeps) {
  const service = {
    async list(_actor: Actor, query: PageRequest & { name?: string }): Promise<Page<ConfigRow>> {
      return await pageOf(db, config, query.name ? eq(config.name, query.name) : undefined, query);
    },
    async get(_actor: Actor, id: number): Promise<ConfigRow> {
      const [row] = await db.select().from(config).where(eq(config.id, id));
      if (!row) throw new NotFound(`${LABEL} "${id}" not found`);
      return row;
    },
    async create(actor: Actor, input: z.output<typeof CreateConfig>): Promise<ConfigRow> {
      const [row] = await guard(LABEL, () =>
        db.insert(config).values({ name: input.name, value: input.value, bio: input.bio ?? "", user_id: input.user_id ?? actor.userId }).returning(),
      );
      return row!;
    },
    async update(actor: Actor, id: number, input: z.output<typeof UpdateConfig>): Promise<ConfigRow> {
      await service.get(actor, id);
      const [row] = await guard(LABEL, () =>
        db.update(config).set({ ...defined(input), updated_at: new Date() }).where(eq(config.id, id)).returning(),
      );
      return row!;
    },
    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      await db.delete(config).where(eq(config.id, id));
    },
  };
  return service;
}
