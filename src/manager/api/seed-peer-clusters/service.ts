/** Seed peer clusters: CRUD within tenants and links to scheduler clusters and seed peers. */
import { count, eq, ilike } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { schedulerCluster, seedPeer, seedPeerCluster, seedPeerClusterSchedulerCluster } from "../../db/schema.ts";
import { FailedPrecondition, guard } from "../../errors.ts";
import { defined, getOwned, pageOf, pickTenant, scoped, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import { escapeLike } from "../scheduler-clusters/service.ts";
import type { CreateSeedPeerCluster, UpdateSeedPeerCluster } from "./types.ts";

/** A seed peer cluster row. */
export type SeedPeerClusterRow = typeof seedPeerCluster.$inferSelect;

/** Default config of a new seed peer cluster. */
export const DEFAULT_SEED_PEER_CLUSTER_CONFIG = { load_limit: 2000 };

const LABEL = "Seed peer cluster";

/** Creates the seed peer cluster service. */
export function createSeedPeerClusterService({ db, changed }: ServiceDeps) {
  const service = {
    async list(actor: Actor, query: PageRequest & { name?: string }): Promise<Page<SeedPeerClusterRow>> {
      return await pageOf(db, seedPeerCluster, scoped(actor, seedPeerCluster, query.name ? ilike(seedPeerCluster.name, `%${escapeLike(query.name)}%`) : undefined), query);
    },
    async get(actor: Actor, id: number): Promise<SeedPeerClusterRow> {
      return await getOwned<SeedPeerClusterRow>(db, seedPeerCluster, actor, id, LABEL);
    },
    async create(actor: Actor, input: z.output<typeof CreateSeedPeerCluster>): Promise<SeedPeerClusterRow> {
      const tenantId = pickTenant(actor, input.tenant_id);
      const [row] = await guard(LABEL, () =>
        db
          .insert(seedPeerCluster)
          .values({ tenant_id: tenantId, name: input.name, bio: input.bio ?? "", config: { ...DEFAULT_SEED_PEER_CLUSTER_CONFIG, ...input.config } })
          .returning(),
      );
      changed();
      return row!;
    },
    async update(actor: Actor, id: number, input: z.output<typeof UpdateSeedPeerCluster>): Promise<SeedPeerClusterRow> {
      await service.get(actor, id);
      const [row] = await guard(LABEL, () =>
        db
          .update(seedPeerCluster)
          .set({ ...defined({ name: input.name, bio: input.bio, config: input.config }), updated_at: new Date() })
          .where(eq(seedPeerCluster.id, id))
          .returning(),
      );
      changed();
      return row!;
    },
    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      const [peers] = await db.select({ n: count() }).from(seedPeer).where(eq(seedPeer.seed_peer_cluster_id, id));
      if ((peers?.n ?? 0) > 0) throw new FailedPrecondition(`${LABEL} "${id}" still has seed peers`);
      await guard(LABEL, () => db.delete(seedPeerCluster).where(eq(seedPeerCluster.id, id)));
      changed();
    },
    /** Moves a seed peer into this cluster. */
    async addSeedPeer(actor: Actor, id: number, seedPeerId: number): Promise<void> {
      const cluster = await service.get(actor, id);
      const row = await getOwned<typeof seedPeer.$inferSelect>(db, seedPeer, actor, seedPeerId, "Seed peer");
      if (row.tenant_id !== cluster.tenant_id) throw new FailedPrecondition("Seed peer belongs to another tenant");
      await guard("Seed peer", () => db.update(seedPeer).set({ seed_peer_cluster_id: id, updated_at: new Date() }).where(eq(seedPeer.id, seedPeerId)));
      changed();
    },
    /** Links this cluster to a scheduler cluster it serves. */
    async addSchedulerCluster(actor: Actor, id: number, schedulerClusterId: number): Promise<void> {
      const cluster = await service.get(actor, id);
      const target = await getOwned<typeof schedulerCluster.$inferSelect>(db, schedulerCluster, actor, schedulerClusterId, "Scheduler cluster");
      if (target.tenant_id !== cluster.tenant_id) throw new FailedPrecondition("Scheduler cluster belongs to another tenant");
      await guard(LABEL, () =>
        db.insert(seedPeerClusterSchedulerCluster).values({ seed_peer_cluster_id: id, scheduler_cluster_id: schedulerClusterId }).onConflictDoNothing(),
      );
      changed();
    },
  };
  return service;
}
