/** The /clusters façade over scheduler clusters and their seed peer clusters (created and removed together). */
import { count, eq, ilike, inArray } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { scheduler, schedulerCluster, seedPeer, seedPeerCluster, seedPeerClusterSchedulerCluster } from "../../db/schema.ts";
import { FailedPrecondition, guard } from "../../errors.ts";
import { defined, getOwned, pageOf, pickTenant, scoped, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import { DEFAULT_CLIENT_CONFIG, DEFAULT_SCHEDULER_CLUSTER_CONFIG, escapeLike, type SchedulerClusterRow } from "../scheduler-clusters/service.ts";
import { DEFAULT_SEED_PEER_CLUSTER_CONFIG, type SeedPeerClusterRow } from "../seed-peer-clusters/service.ts";
import type { CreateCluster, UpdateCluster } from "./types.ts";

const LABEL = "Cluster";

/** The façade's JSON. */
export function clusterJson(sc: SchedulerClusterRow, spc: SeedPeerClusterRow | undefined) {
  return {
    id: sc.id,
    tenant_id: sc.tenant_id,
    name: sc.name,
    bio: sc.bio,
    scopes: sc.scopes,
    scheduler_cluster_id: sc.id,
    seed_peer_cluster_id: spc?.id ?? null,
    scheduler_cluster_config: sc.config,
    seed_peer_cluster_config: spc?.config ?? {},
    peer_cluster_config: sc.client_config,
    is_default: sc.is_default,
    created_at: sc.created_at,
    updated_at: sc.updated_at,
  };
}

/** Creates the cluster façade service. */
export function createClusterService({ db, changed }: ServiceDeps) {
  /** The first seed peer cluster linked to each scheduler cluster. */
  async function seedClusters(ids: number[]): Promise<Map<number, SeedPeerClusterRow>> {
    if (ids.length === 0) return new Map();
    const rows = await db
      .select({ link: seedPeerClusterSchedulerCluster, cluster: seedPeerCluster })
      .from(seedPeerClusterSchedulerCluster)
      .innerJoin(seedPeerCluster, eq(seedPeerCluster.id, seedPeerClusterSchedulerCluster.seed_peer_cluster_id))
      .where(inArray(seedPeerClusterSchedulerCluster.scheduler_cluster_id, ids))
      .orderBy(seedPeerCluster.id);
    const out = new Map<number, SeedPeerClusterRow>();
    for (const row of rows) if (!out.has(row.link.scheduler_cluster_id)) out.set(row.link.scheduler_cluster_id, row.cluster);
    return out;
  }

  const service = {
    async list(actor: Actor, query: PageRequest & { name?: string }): Promise<Page<ReturnType<typeof clusterJson>>> {
      const page = await pageOf<SchedulerClusterRow>(
        db,
        schedulerCluster,
        scoped(actor, schedulerCluster, query.name ? ilike(schedulerCluster.name, `%${escapeLike(query.name)}%`) : undefined),
        query,
      );
      const seeds = await seedClusters(page.items.map((c) => c.id));
      return { items: page.items.map((c) => clusterJson(c, seeds.get(c.id))), total: page.total };
    },

    async get(actor: Actor, id: number) {
      const sc = await getOwned<SchedulerClusterRow>(db, schedulerCluster, actor, id, LABEL);
      return clusterJson(sc, (await seedClusters([id])).get(id));
    },

    async create(actor: Actor, input: z.output<typeof CreateCluster>) {
      const tenantId = pickTenant(actor, input.tenant_id);
      const result = await guard(LABEL, () =>
        db.transaction(async (tx) => {
          const [sc] = await tx
            .insert(schedulerCluster)
            .values({
              tenant_id: tenantId,
              name: input.name,
              bio: input.bio ?? "",
              config: { ...DEFAULT_SCHEDULER_CLUSTER_CONFIG, ...input.scheduler_cluster_config },
              client_config: { ...DEFAULT_CLIENT_CONFIG, ...input.peer_cluster_config },
              seed_client_config: input.seed_client_config ?? input.seed_peer_cluster_config ?? {},
              scopes: input.scopes ?? {},
              is_default: input.is_default ?? false,
            })
            .returning();
          const [spc] = await tx
            .insert(seedPeerCluster)
            .values({
              tenant_id: tenantId,
              name: input.name,
              bio: input.bio ?? "",
              config: { ...DEFAULT_SEED_PEER_CLUSTER_CONFIG, ...input.seed_peer_cluster_config },
            })
            .returning();
          await tx.insert(seedPeerClusterSchedulerCluster).values({ seed_peer_cluster_id: spc!.id, scheduler_cluster_id: sc!.id });
          return clusterJson(sc!, spc!);
        }),
      );
      changed();
      return result;
    },

    async update(actor: Actor, id: number, input: z.output<typeof UpdateCluster>) {
      await getOwned<SchedulerClusterRow>(db, schedulerCluster, actor, id, LABEL);
      const seed = (await seedClusters([id])).get(id);
      const result = await guard(LABEL, () =>
        db.transaction(async (tx) => {
          const [sc] = await tx
            .update(schedulerCluster)
            .set({
              ...defined({
                name: input.name,
                bio: input.bio,
                scopes: input.scopes,
                config: input.scheduler_cluster_config,
                client_config: input.peer_cluster_config,
                seed_client_config: input.seed_client_config,
                is_default: input.is_default,
              }),
              updated_at: new Date(),
            })
            .where(eq(schedulerCluster.id, id))
            .returning();
          let spc = seed;
          if (seed) {
            [spc] = await tx
              .update(seedPeerCluster)
              .set({ ...defined({ name: input.name, bio: input.bio, config: input.seed_peer_cluster_config }), updated_at: new Date() })
              .where(eq(seedPeerCluster.id, seed.id))
              .returning();
          }
          return clusterJson(sc!, spc);
        }),
      );
      changed();
      return result;
    },

    async remove(actor: Actor, id: number): Promise<void> {
      await getOwned<SchedulerClusterRow>(db, schedulerCluster, actor, id, LABEL);
      const seed = (await seedClusters([id])).get(id);
      const [schedulers] = await db.select({ n: count() }).from(scheduler).where(eq(scheduler.scheduler_cluster_id, id));
      if ((schedulers?.n ?? 0) > 0) throw new FailedPrecondition(`${LABEL} "${id}" still has schedulers`);
      if (seed) {
        const [seeds] = await db.select({ n: count() }).from(seedPeer).where(eq(seedPeer.seed_peer_cluster_id, seed.id));
        if ((seeds?.n ?? 0) > 0) throw new FailedPrecondition(`${LABEL} "${id}" still has seed peers`);
      }
      await guard(LABEL, () =>
        db.transaction(async (tx) => {
          await tx.delete(schedulerCluster).where(eq(schedulerCluster.id, id));
          if (seed) await tx.delete(seedPeerCluster).where(eq(seedPeerCluster.id, seed.id));
        }),
      );
      changed();
    },
  };
  return service;
}
