/**
 * What schedulers and seed peers register, and what peers ask for: registration, liveness, the searcher's
 * answers and each scheduler's view of its cluster. Plain data in and out; the RPC layer maps it to protobuf.
 */
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Actor } from "./auth/actor.ts";
import { TtlCache } from "./cache.ts";
import type { ManagerConfig } from "./config.ts";
import type { Database } from "./db/database.ts";
import { scheduler, schedulerCluster, seedPeer, seedPeerCluster, seedPeerClusterSchedulerCluster } from "./db/schema.ts";
import { guard, InvalidArgument, NotFound } from "./errors.ts";
import { alive, intervalFromConfig } from "./liveness.ts";
import { scoped } from "./api/crud.ts";
import { rank, type Scopes } from "./rpc/searcher.ts";

/** Rows as stored. */
export type SchedulerRow = typeof scheduler.$inferSelect;
export type SchedulerClusterRow = typeof schedulerCluster.$inferSelect;
export type SeedPeerRow = typeof seedPeer.$inferSelect;
export type SeedPeerClusterRow = typeof seedPeerCluster.$inferSelect;

/** A seed peer with its cluster. */
export interface SeedPeerView {
  seedPeer: SeedPeerRow;
  cluster: SeedPeerClusterRow;
}

/** A scheduler with its cluster and the active seed peers serving that cluster. */
export interface SchedulerView {
  scheduler: SchedulerRow;
  cluster: SchedulerClusterRow;
  seedPeers: SeedPeerView[];
}

/** Who sends a heartbeat. */
export type Source = "scheduler" | "seed_peer";

/** Default scheduler features. */
export const DEFAULT_FEATURES = ["schedule", "preheat"];

/** Creates the registry. */
export function createRegistry(db: Database, config: ManagerConfig, changed: () => void) {
  const answers = new TtlCache<SchedulerView[]>(config.cache.ttlMs);

  function scopeKey(actor: Actor): string {
    return actor.root ? "*" : actor.tenantIds.join(",");
  }

  /** The cluster a caller with cluster ID 0 joins: its tenant's default, else its first. */
  async function resolveCluster(actor: Actor, clusterId: number): Promise<SchedulerClusterRow> {
    const [row] =
      clusterId > 0
        ? await db.select().from(schedulerCluster).where(scoped(actor, schedulerCluster, eq(schedulerCluster.id, clusterId)))
        : await db
            .select()
            .from(schedulerCluster)
            .where(scoped(actor, schedulerCluster))
            .orderBy(desc(schedulerCluster.is_default), asc(schedulerCluster.id))
            .limit(1);
    if (!row) throw new NotFound(`Scheduler cluster "${clusterId}" not found`);
    return row;
  }

  async function resolveSeedCluster(actor: Actor, clusterId: number): Promise<SeedPeerClusterRow> {
    const [row] =
      clusterId > 0
        ? await db.select().from(seedPeerCluster).where(scoped(actor, seedPeerCluster, eq(seedPeerCluster.id, clusterId)))
        : await db.select().from(seedPeerCluster).where(scoped(actor, seedPeerCluster)).orderBy(asc(seedPeerCluster.id)).limit(1);
    if (!row) throw new NotFound(`Seed peer cluster "${clusterId}" not found`);
    return row;
  }

  /** Active seed peers serving each scheduler cluster. */
  async function seedPeersFor(clusterIds: number[]): Promise<Map<number, SeedPeerView[]>> {
    const out = new Map<number, SeedPeerView[]>();
    if (clusterIds.length === 0) return out;
    const rows = await db
      .select({ link: seedPeerClusterSchedulerCluster, seedPeer, cluster: seedPeerCluster })
      .from(seedPeerClusterSchedulerCluster)
      .innerJoin(seedPeerCluster, eq(seedPeerCluster.id, seedPeerClusterSchedulerCluster.seed_peer_cluster_id))
      .innerJoin(seedPeer, eq(seedPeer.seed_peer_cluster_id, seedPeerCluster.id))
      .where(and(inArray(seedPeerClusterSchedulerCluster.scheduler_cluster_id, clusterIds), eq(seedPeer.state, "active")))
      .orderBy(seedPeer.id);
    for (const row of rows) {
      const list = out.get(row.link.scheduler_cluster_id) ?? [];
      list.push({ seedPeer: row.seedPeer, cluster: row.cluster });
      out.set(row.link.scheduler_cluster_id, list);
    }
    return out;
  }

  function parseConfig(bytes: Uint8Array): Record<string, unknown> {
    if (bytes.length === 0) return {};
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      throw new InvalidArgument('Invalid "config": not JSON');
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new InvalidArgument('Invalid "config": must be a JSON object');
    if (JSON.stringify(value).includes("\\u0000")) throw new InvalidArgument('Invalid "config": contains NUL');
    return value as Record<string, unknown>;
  }

  const registry = {
    /** Registers or updates a scheduler (state is set by heartbeats, as Dragonfly's). */
    async updateScheduler(
      actor: Actor,
      input: { hostname: string; ip: string; port: number; idc: string; location: string; clusterId: number; features: string[]; config: Uint8Array },
    ): Promise<SchedulerView> {
      requireHost(input.hostname, input.ip);
      if (input.port < 0 || input.port > 65535) throw new InvalidArgument(`Invalid "port": "${input.port}"`);
      const cluster = await resolveCluster(actor, input.clusterId);
      const cfg = parseConfig(input.config);
      const values = {
        idc: input.idc,
        location: input.location,
        port: input.port,
        features: input.features.length > 0 ? input.features : DEFAULT_FEATURES,
        config: cfg,
        keep_alive_interval_ms: intervalFromConfig(cfg, config.keepAlive.intervalMs),
        last_keep_alive_at: new Date(),
        updated_at: new Date(),
      };
      const [row] = await guard("Scheduler", () =>
        db
          .insert(scheduler)
          .values({ ...values, tenant_id: cluster.tenant_id, host_name: input.hostname, ip: input.ip, scheduler_cluster_id: cluster.id })
          .onConflictDoUpdate({ target: [scheduler.host_name, scheduler.ip, scheduler.scheduler_cluster_id], set: values })
          .returning(),
      );
      changed();
      return { scheduler: row!, cluster, seedPeers: (await seedPeersFor([cluster.id])).get(cluster.id) ?? [] };
    },

    /** A scheduler with its cluster config and active seed peers. */
    async getScheduler(actor: Actor, input: { hostname: string; ip: string; clusterId: number }): Promise<SchedulerView> {
      const cluster = await resolveCluster(actor, input.clusterId);
      const conditions = [eq(scheduler.host_name, input.hostname), eq(scheduler.scheduler_cluster_id, cluster.id)];
      if (input.ip) conditions.push(eq(scheduler.ip, input.ip));
      const [row] = await db.select().from(scheduler).where(and(...conditions)).limit(1);
      if (!row) throw new NotFound(`Scheduler "${input.hostname}" not found`);
      return { scheduler: row, cluster, seedPeers: (await seedPeersFor([cluster.id])).get(cluster.id) ?? [] };
    },

    /**
     * Live schedulers for a caller: of one cluster when asked, else of every cluster ranked by the searcher.
     * Unlike Dragonfly, inactive schedulers never appear, even when a cluster ID is given.
     */
    async listSchedulers(
      actor: Actor,
      input: { hostname: string; ip: string; idc?: string; location?: string; clusterId: number },
    ): Promise<SchedulerView[]> {
      const key = `${scopeKey(actor)}|${input.clusterId}|${input.hostname}|${input.ip}|${input.idc ?? ""}|${input.location ?? ""}`;
      return await answers.get(key, async () => {
        const rows = await db
          .select({ scheduler, cluster: schedulerCluster })
          .from(scheduler)
          .innerJoin(schedulerCluster, eq(schedulerCluster.id, scheduler.scheduler_cluster_id))
          .where(
            and(
              scoped(actor, scheduler),
              alive(scheduler),
              input.clusterId > 0 ? eq(scheduler.scheduler_cluster_id, input.clusterId) : sql`${scheduler.features} ? 'schedule'`,
            ),
          )
          .orderBy(schedulerCluster.id, scheduler.id);
        const clusters = new Map<number, { id: number; scopes: Scopes; isDefault: boolean; row: SchedulerClusterRow; schedulers: SchedulerRow[] }>();
        for (const row of rows) {
          let entry = clusters.get(row.cluster.id);
          if (!entry) {
            entry = { id: row.cluster.id, scopes: row.cluster.scopes as Scopes, isDefault: row.cluster.is_default, row: row.cluster, schedulers: [] };
            clusters.set(row.cluster.id, entry);
          }
          entry.schedulers.push(row.scheduler);
        }
        const ranked = rank([...clusters.values()], input);
        const seeds = await seedPeersFor(ranked.map((c) => c.id));
        return ranked.flatMap((c) => c.schedulers.map((s) => ({ scheduler: s, cluster: c.row, seedPeers: seeds.get(c.id) ?? [] })));
      });
    },

    /** A heartbeat: marks the instance active now; `intervalMs` replaces its expected interval when given. */
    async heartbeat(
      actor: Actor,
      source: Source,
      input: { hostname: string; ip: string; clusterId: number; intervalMs?: number; version?: string; commit?: string },
    ): Promise<number> {
      requireHost(input.hostname, input.ip);
      if (input.version !== undefined && !/^[^\u0000]{1,256}$/.test(input.version)) throw new InvalidArgument(`Invalid "version": "${input.version.slice(0, 64)}"`);
      if (input.commit !== undefined && !/^[^\u0000]{0,256}$/.test(input.commit)) throw new InvalidArgument(`Invalid "commit": "${input.commit.slice(0, 64)}"`);
      const release = input.version ? { git_version: input.version, git_commit: input.commit ?? "" } : {};
      if (source === "scheduler") {
        const cluster = await resolveCluster(actor, input.clusterId);
        const set = {
          state: "active",
          last_keep_alive_at: new Date(),
          ...(input.intervalMs ? { keep_alive_interval_ms: Math.max(10, input.intervalMs) } : {}),
          ...release,
        };
        const rows = await db
          .update(scheduler)
          .set(set)
          .where(and(eq(scheduler.host_name, input.hostname), eq(scheduler.ip, input.ip), eq(scheduler.scheduler_cluster_id, cluster.id)))
          .returning({ interval: scheduler.keep_alive_interval_ms });
        if (rows.length === 0) throw new NotFound(`Scheduler "${input.hostname}" not found`);
        answers.clear();
        return rows[0]!.interval;
      }
      const cluster = await resolveSeedCluster(actor, input.clusterId);
      const rows = await db
        .update(seedPeer)
        .set({ state: "active", last_keep_alive_at: new Date(), ...(input.intervalMs ? { keep_alive_interval_ms: Math.max(10, input.intervalMs) } : {}), ...release })
        .where(and(eq(seedPeer.host_name, input.hostname), eq(seedPeer.ip, input.ip), eq(seedPeer.seed_peer_cluster_id, cluster.id)))
        .returning({ interval: seedPeer.keep_alive_interval_ms });
      if (rows.length === 0) throw new NotFound(`Seed peer "${input.hostname}" not found`);
      answers.clear();
      return rows[0]!.interval;
    },

    /** The end of a KeepAlive stream: the instance is inactive at once. */
    async disconnect(actor: Actor, source: Source, input: { hostname: string; ip: string; clusterId: number }): Promise<void> {
      if (source === "scheduler") {
        const cluster = await resolveCluster(actor, input.clusterId);
        await db
          .update(scheduler)
          .set({ state: "inactive", updated_at: new Date() })
          .where(and(eq(scheduler.host_name, input.hostname), eq(scheduler.ip, input.ip), eq(scheduler.scheduler_cluster_id, cluster.id)));
      } else {
        const cluster = await resolveSeedCluster(actor, input.clusterId);
        await db
          .update(seedPeer)
          .set({ state: "inactive", updated_at: new Date() })
          .where(and(eq(seedPeer.host_name, input.hostname), eq(seedPeer.ip, input.ip), eq(seedPeer.seed_peer_cluster_id, cluster.id)));
      }
      changed();
    },

    /** Registers or updates a seed peer (active at once, as Dragonfly's). */
    async updateSeedPeer(
      actor: Actor,
      input: { hostname: string; ip: string; type: string; idc: string; location: string; port: number; downloadPort: number; clusterId: number },
    ): Promise<SeedPeerView> {
      requireHost(input.hostname, input.ip);
      for (const [field, value] of [["port", input.port], ["download_port", input.downloadPort]] as const) {
        if (value < 0 || value > 65535) throw new InvalidArgument(`Invalid "${field}": "${value}"`);
      }
      const cluster = await resolveSeedCluster(actor, input.clusterId);
      const values = {
        type: input.type || "super",
        idc: input.idc,
        location: input.location,
        port: input.port,
        download_port: input.downloadPort,
        state: "active",
        last_keep_alive_at: new Date(),
        updated_at: new Date(),
      };
      const [row] = await guard("Seed peer", () =>
        db
          .insert(seedPeer)
          .values({ ...values, tenant_id: cluster.tenant_id, host_name: input.hostname, ip: input.ip, seed_peer_cluster_id: cluster.id })
          .onConflictDoUpdate({ target: [seedPeer.host_name, seedPeer.ip, seedPeer.seed_peer_cluster_id], set: values })
          .returning(),
      );
      changed();
      return { seedPeer: row!, cluster };
    },

    /** A seed peer, its cluster and the active schedulers of the scheduler clusters it serves. */
    async getSeedPeer(actor: Actor, input: { hostname: string; ip: string; clusterId: number }) {
      const cluster = await resolveSeedCluster(actor, input.clusterId);
      const conditions = [eq(seedPeer.host_name, input.hostname), eq(seedPeer.seed_peer_cluster_id, cluster.id)];
      if (input.ip) conditions.push(eq(seedPeer.ip, input.ip));
      const [row] = await db.select().from(seedPeer).where(and(...conditions)).limit(1);
      if (!row) throw new NotFound(`Seed peer "${input.hostname}" not found`);
      const schedulers = await db
        .select({ scheduler, cluster: schedulerCluster })
        .from(seedPeerClusterSchedulerCluster)
        .innerJoin(schedulerCluster, eq(schedulerCluster.id, seedPeerClusterSchedulerCluster.scheduler_cluster_id))
        .innerJoin(scheduler, eq(scheduler.scheduler_cluster_id, schedulerCluster.id))
        .where(and(eq(seedPeerClusterSchedulerCluster.seed_peer_cluster_id, cluster.id), alive(scheduler)))
        .orderBy(scheduler.id);
      return { seedPeer: row, cluster, schedulers };
    },

    /** Active seed peers of the caller's own seed peer cluster. */
    async listSeedPeers(actor: Actor, input: { hostname: string; ip: string }): Promise<SeedPeerView[]> {
      const [self] = await db
        .select()
        .from(seedPeer)
        .where(scoped(actor, seedPeer, eq(seedPeer.host_name, input.hostname), input.ip ? eq(seedPeer.ip, input.ip) : undefined))
        .limit(1);
      if (!self) throw new NotFound(`Seed peer "${input.hostname}" not found`);
      const rows = await db
        .select({ seedPeer, cluster: seedPeerCluster })
        .from(seedPeer)
        .innerJoin(seedPeerCluster, eq(seedPeerCluster.id, seedPeer.seed_peer_cluster_id))
        .where(and(eq(seedPeer.seed_peer_cluster_id, self.seed_peer_cluster_id), eq(seedPeer.state, "active")))
        .orderBy(seedPeer.id);
      return rows;
    },

    /** Removes a seed peer. */
    async deleteSeedPeer(actor: Actor, input: { hostname: string; ip: string; clusterId: number }): Promise<void> {
      const cluster = await resolveSeedCluster(actor, input.clusterId);
      const rows = await db
        .delete(seedPeer)
        .where(and(eq(seedPeer.host_name, input.hostname), eq(seedPeer.ip, input.ip), eq(seedPeer.seed_peer_cluster_id, cluster.id)))
        .returning({ id: seedPeer.id });
      if (rows.length === 0) throw new NotFound(`Seed peer "${input.hostname}" not found`);
      changed();
    },

    /** Drops cached answers. */
    invalidate(): void {
      answers.clear();
    },
  };
  return registry;
}

/** Checks a caller's hostname and IP; both must be storable and the IP an address. */
function requireHost(hostname: string, ip: string): void {
  if (!hostname || hostname.length > 256 || /[\u0000]/.test(hostname)) throw new InvalidArgument(`Invalid "hostname": "${hostname.slice(0, 64)}"`);
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(ip)) throw new InvalidArgument(`Invalid "ip": "${ip.slice(0, 64)}"`);
}

/** The registry type. */
export type Registry = ReturnType<typeof createRegistry>;
