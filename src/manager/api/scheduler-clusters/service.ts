/** Scheduler clusters: CRUD within tenants, links to seed peer clusters and schedulers. */
import { and, count, eq, ilike } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { TtlCache } from "../../cache.ts";
import { scheduler, schedulerCluster, seedPeerCluster, seedPeerClusterSchedulerCluster } from "../../db/schema.ts";
import { FailedPrecondition, guard } from "../../errors.ts";
import { defined, getOwned, pageOf, pickTenant, scoped, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import type { CreateSchedulerCluster, UpdateSchedulerCluster } from "./types.ts";

/** A scheduler cluster row. */
export type SchedulerClusterRow = typeof schedulerCluster.$inferSelect;

/** Defaults of a new cluster, as Dragonfly seeds them. */
export const DEFAULT_SCHEDULER_CLUSTER_CONFIG = { candidate_parent_limit: 3, filter_parent_limit: 15, job_rate_limit: 10 };
/** Default client config. */
export const DEFAULT_CLIENT_CONFIG = { load_limit: 200 };

const LABEL = "Scheduler cluster";

/** Creates the scheduler cluster service. */
export function createSchedulerClusterService({ db, config, changed }: ServiceDeps) {
  const lists = new TtlCache<Page<SchedulerClusterRow>>(config.cache.ttlMs);

  const service = {
    async list(actor: Actor, query: PageRequest & { name?: string }): Promise<Page<SchedulerClusterRow>> {
      const key = `${actor.root ? "*" : actor.tenantIds.join(",")}|${query.page}|${query.per_page}|${query.name ?? ""}`;
      return await lists.get(key, () =>
        pageOf<SchedulerClusterRow>(db, schedulerCluster, scoped(actor, schedulerCluster, query.name ? ilike(schedulerCluster.name, `%${escapeLike(query.name)}%`) : undefined), query),
      );
    },

    async get(actor: Actor, id: number): Promise<SchedulerClusterRow> {
      return await getOwned<SchedulerClusterRow>(db, schedulerCluster, actor, id, LABEL);
    },

    async create(actor: Actor, input: z.output<typeof CreateSchedulerCluster>): Promise<SchedulerClusterRow> {
      const tenantId = pickTenant(actor, input.tenant_id);
      if (input.seed_peer_cluster_id !== undefined) {
        const seed = await getOwned<typeof seedPeerCluster.$inferSelect>(db, seedPeerCluster, actor, input.seed_peer_cluster_id, "Seed peer cluster");
        if (seed.tenant_id !== tenantId) throw new FailedPrecondition("Seed peer cluster belongs to another tenant");
      }
      const row = await guard(LABEL, () =>
        db.transaction(async (tx) => {
          const [created] = await tx
            .insert(schedulerCluster)
            .values({
              tenant_id: tenantId,
              name: input.name,
              bio: input.bio ?? "",
              config: { ...DEFAULT_SCHEDULER_CLUSTER_CONFIG, ...input.config },
              client_config: { ...DEFAULT_CLIENT_CONFIG, ...input.client_config },
              seed_client_config: input.seed_client_config ?? {},
              scopes: input.scopes ?? {},
              is_default: input.is_default ?? false,
            })
            .returning();
          if (input.seed_peer_cluster_id !== undefined) {
            await tx.insert(seedPeerClusterSchedulerCluster).values({ seed_peer_cluster_id: input.seed_peer_cluster_id, scheduler_cluster_id: created!.id });
          }
          return created!;
        }),
      );
      lists.clear();
      changed();
      return row;
    },

    async update(actor: Actor, id: number, input: z.output<typeof UpdateSchedulerCluster>): Promise<SchedulerClusterRow> {
      const current = await service.get(actor, id);
      if (input.seed_peer_cluster_id !== undefined) {
        const seed = await getOwned<typeof seedPeerCluster.$inferSelect>(db, seedPeerCluster, actor, input.seed_peer_cluster_id, "Seed peer cluster");
        if (seed.tenant_id !== current.tenant_id) throw new FailedPrecondition("Seed peer cluster belongs to another tenant");
      }
      const row = await guard(LABEL, () =>
        db.transaction(async (tx) => {
          const [updated] = await tx
            .update(schedulerCluster)
            .set({
              ...defined({
                name: input.name,
                bio: input.bio,
                config: input.config,
                client_config: input.client_config,
                seed_client_config: input.seed_client_config,
                scopes: input.scopes,
                is_default: input.is_default,
              }),
              updated_at: new Date(),
            })
            .where(eq(schedulerCluster.id, id))
            .returning();
          if (input.seed_peer_cluster_id !== undefined) {
            await tx
              .insert(seedPeerClusterSchedulerCluster)
              .values({ seed_peer_cluster_id: input.seed_peer_cluster_id, scheduler_cluster_id: id })
              .onConflictDoNothing();
          }
          return updated!;
        }),
      );
      lists.clear();
      changed();
      return row;
    },

    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      const [schedulers] = await db.select({ n: count() }).from(scheduler).where(eq(scheduler.scheduler_cluster_id, id));
      if ((schedulers?.n ?? 0) > 0) throw new FailedPrecondition(`${LABEL} "${id}" still has schedulers`);
      await guard(LABEL, () => db.delete(schedulerCluster).where(eq(schedulerCluster.id, id)));
      lists.clear();
      changed();
    },

    /** Moves a scheduler into this cluster (both must be visible and in one tenant). */
    async addScheduler(actor: Actor, id: number, schedulerId: number): Promise<void> {
      const cluster = await service.get(actor, id);
      const row = await getOwned<typeof scheduler.$inferSelect>(db, scheduler, actor, schedulerId, "Scheduler");
      if (row.tenant_id !== cluster.tenant_id) throw new FailedPrecondition("Scheduler belongs to another tenant");
      await guard("Scheduler", () =>
        db.update(scheduler).set({ scheduler_cluster_id: id, updated_at: new Date() }).where(and(eq(scheduler.id, schedulerId))),
      );
      changed();
    },

    /** Drops cached lists. */
    invalidate(): void {
      lists.clear();
    },
  };
  return service;
}

/** Escapes LIKE wildcards in user input. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
