/**
 * The schedulers' traffic reports: stored per one-minute bucket and per task transfer, kept seven days, and
 * read back as a time series, live counts per cluster and one task's graph. Tenant-scoped through the
 * reporting scheduler's cluster.
 */
import { and, asc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { tenantScope, type Actor } from "../../auth/actor.ts";
import { rowsOf } from "../../db/migrate.ts";
import {
  scheduler,
  schedulerCluster,
  seedPeer,
  seedPeerCluster,
  seedPeerClusterSchedulerCluster,
  taskTransfer,
  trafficBucket,
} from "../../db/schema.ts";
import { InvalidArgument, NotFound } from "../../errors.ts";
import { alive } from "../../liveness.ts";
import { scoped } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import { BUCKET_SECONDS, MAX_POINTS } from "./types.ts";

/** How long buckets and transfers are kept. */
export const STATS_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Most transfers one report may carry. */
export const MAX_TRANSFERS_PER_REPORT = 5000;
/** How often old rows are removed, at most. */
const PRUNE_EVERY_MS = 60_000;
/** Rows per insert statement. */
const INSERT_CHUNK = 500;
/** Points a range is divided into when no step is given. */
const DEFAULT_POINTS = 100;
/** Default range of a traffic query. */
const DEFAULT_RANGE_MS = 24 * 3600 * 1000;
/** Largest byte count accepted per report field (2^53 - 1). */
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** A host in a report. */
export interface ReportHost {
  id: string;
  hostname: string;
  ip: string;
  type: string;
}

/** What a scheduler reports for one interval. */
export interface StatsReport {
  hostname: string;
  ip: string;
  clusterId: number;
  backToSourceBytes: number;
  remotePeerBytes: number;
  localPeerBytes: number;
  activeTasks: number;
  activePeers: number;
  hosts: number;
  version: string;
  commit: string;
  transfers: { taskId: string; child: ReportHost; parent: ReportHost | undefined; bytes: number; pieces: number }[];
  /** Seed peers announced to the scheduler; listed as active seed peers of the cluster's seed peer cluster. */
  seedPeers?: ReportSeedPeer[];
  /** The report interval; reported seed peers turn inactive after three without a report. */
  intervalMs?: number;
}

/** A seed peer in a report. */
export interface ReportSeedPeer {
  hostname: string;
  ip: string;
  type: string;
  idc: string;
  location: string;
  port: number;
  downloadPort: number;
  version: string;
  commit: string;
}

/** Most seed peers one report may carry. */
const MAX_SEED_PEERS_PER_REPORT = 1000;
/** Dragonfly's seed peer types. */
const SEED_PEER_TYPES = new Set(["super", "strong", "weak"]);
/** Interval assumed for reported seed peers when the report names none. */
const DEFAULT_REPORT_INTERVAL_MS = 10_000;

const SAFE_TEXT = /^[^\u0000]{0,256}$/;

function checkText(field: string, value: string, required = false): void {
  if ((required && value.length === 0) || !SAFE_TEXT.test(value)) throw new InvalidArgument(`Invalid "${field}": "${value.slice(0, 64)}"`);
}

function checkBytes(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_BYTES) throw new InvalidArgument(`Invalid "${field}": "${value}"`);
}

function validate(report: StatsReport): void {
  for (const [field, value] of [
    ["back_to_source_bytes", report.backToSourceBytes],
    ["remote_peer_bytes", report.remotePeerBytes],
    ["local_peer_bytes", report.localPeerBytes],
  ] as const) checkBytes(field, value);
  checkText("version", report.version);
  checkText("commit", report.commit);
  if (report.transfers.length > MAX_TRANSFERS_PER_REPORT) {
    throw new InvalidArgument(`Invalid "transfers": ${report.transfers.length} entries, at most ${MAX_TRANSFERS_PER_REPORT}`);
  }
  for (const [i, t] of report.transfers.entries()) {
    checkText(`transfers[${i}].task_id`, t.taskId, true);
    checkText(`transfers[${i}].child.id`, t.child.id, true);
    checkText(`transfers[${i}].child.hostname`, t.child.hostname);
    checkText(`transfers[${i}].child.ip`, t.child.ip);
    checkText(`transfers[${i}].child.type`, t.child.type);
    if (t.parent) {
      checkText(`transfers[${i}].parent.id`, t.parent.id, true);
      checkText(`transfers[${i}].parent.hostname`, t.parent.hostname);
      checkText(`transfers[${i}].parent.ip`, t.parent.ip);
      checkText(`transfers[${i}].parent.type`, t.parent.type);
    }
    checkBytes(`transfers[${i}].bytes`, t.bytes);
  }
  const seeds = report.seedPeers ?? [];
  if (seeds.length > MAX_SEED_PEERS_PER_REPORT) throw new InvalidArgument(`Invalid "seed_peers": ${seeds.length} entries, at most ${MAX_SEED_PEERS_PER_REPORT}`);
  for (const [i, p] of seeds.entries()) {
    checkText(`seed_peers[${i}].hostname`, p.hostname, true);
    if (!/^[0-9a-fA-F:.]{2,45}$/.test(p.ip)) throw new InvalidArgument(`Invalid "seed_peers[${i}].ip": "${p.ip.slice(0, 64)}"`);
    if (!SEED_PEER_TYPES.has(p.type)) throw new InvalidArgument(`Invalid "seed_peers[${i}].type": "${p.type.slice(0, 64)}"`);
    for (const [field, value] of [["idc", p.idc], ["location", p.location], ["version", p.version], ["commit", p.commit]] as const) checkText(`seed_peers[${i}].${field}`, value);
    for (const [field, value] of [["port", p.port], ["download_port", p.downloadPort]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgument(`Invalid "seed_peers[${i}].${field}": "${value}"`);
    }
  }
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** Creates the stats service. */
export function createStatsService({ db, changed }: ServiceDeps) {
  let prunedAt = 0;

  async function prune(now: number): Promise<void> {
    if (now - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = now;
    const cutoff = new Date(now - STATS_RETENTION_MS);
    await db.delete(trafficBucket).where(lt(trafficBucket.bucket_start, cutoff));
    await db.delete(taskTransfer).where(lt(taskTransfer.updated_at, cutoff));
  }

  /**
   * Marks reported seed peers active in the first seed peer cluster serving the scheduler cluster (none linked:
   * nothing to do). Returns whether a seed peer appeared or came back, which changes what RPC callers see.
   */
  async function upsertSeedPeers(schedulerClusterId: number, seeds: ReportSeedPeer[], intervalMs: number, at: Date): Promise<boolean> {
    const [link] = await db
      .select({ id: seedPeerCluster.id, tenant_id: seedPeerCluster.tenant_id })
      .from(seedPeerClusterSchedulerCluster)
      .innerJoin(seedPeerCluster, eq(seedPeerCluster.id, seedPeerClusterSchedulerCluster.seed_peer_cluster_id))
      .where(eq(seedPeerClusterSchedulerCluster.scheduler_cluster_id, schedulerClusterId))
      .orderBy(asc(seedPeerCluster.id))
      .limit(1);
    if (!link) return false;
    const live = await db
      .select({ host: seedPeer.host_name, ip: seedPeer.ip })
      .from(seedPeer)
      .where(and(eq(seedPeer.seed_peer_cluster_id, link.id), alive(seedPeer)));
    const known = new Set(live.map((r) => `${r.host}\u0000${r.ip}`));
    const interval = Math.min(Math.max(Math.round(intervalMs), 10), 3_600_000);
    for (const p of seeds) {
      const values = {
        type: p.type,
        idc: p.idc,
        location: p.location,
        port: p.port,
        download_port: p.downloadPort,
        state: "active",
        keep_alive_interval_ms: interval,
        last_keep_alive_at: at,
        git_version: p.version,
        git_commit: p.commit,
        updated_at: at,
      };
      await db
        .insert(seedPeer)
        .values({ ...values, tenant_id: link.tenant_id, host_name: p.hostname, ip: p.ip, seed_peer_cluster_id: link.id })
        .onConflictDoUpdate({ target: [seedPeer.host_name, seedPeer.ip, seedPeer.seed_peer_cluster_id], set: values });
    }
    return seeds.some((p) => !known.has(`${p.hostname}\u0000${p.ip}`));
  }

  return {
    /** Adds one report to the bucket of the minute it arrived in and to the task transfers. */
    async report(actor: Actor, report: StatsReport, now = Date.now()): Promise<void> {
      validate(report);
      const [row] = await db
        .select({ id: scheduler.id, tenant_id: scheduler.tenant_id, cluster: scheduler.scheduler_cluster_id, version: scheduler.git_version, commit: scheduler.git_commit })
        .from(scheduler)
        .where(
          scoped(
            actor,
            scheduler,
            eq(scheduler.host_name, report.hostname),
            eq(scheduler.ip, report.ip),
            report.clusterId > 0 ? eq(scheduler.scheduler_cluster_id, report.clusterId) : undefined,
          ),
        )
        .limit(1);
      if (!row) throw new NotFound(`Scheduler "${report.hostname}" not found`);
      const bucketStart = new Date(Math.floor(now / (BUCKET_SECONDS * 1000)) * BUCKET_SECONDS * 1000);
      const reportedAt = new Date(now);
      await db.transaction(async (tx) => {
        if (report.version && (report.version !== row.version || report.commit !== row.commit)) {
          await tx.update(scheduler).set({ git_version: report.version, git_commit: report.commit }).where(eq(scheduler.id, row.id));
        }
        await tx
          .insert(trafficBucket)
          .values({
            tenant_id: row.tenant_id,
            scheduler_cluster_id: row.cluster,
            scheduler_id: row.id,
            bucket_start: bucketStart,
            back_to_source_bytes: report.backToSourceBytes,
            remote_peer_bytes: report.remotePeerBytes,
            local_peer_bytes: report.localPeerBytes,
            active_tasks: report.activeTasks,
            active_peers: report.activePeers,
            hosts: report.hosts,
            reported_at: reportedAt,
          })
          .onConflictDoUpdate({
            target: [trafficBucket.scheduler_id, trafficBucket.bucket_start],
            set: {
              back_to_source_bytes: sql`${trafficBucket.back_to_source_bytes} + excluded.back_to_source_bytes`,
              remote_peer_bytes: sql`${trafficBucket.remote_peer_bytes} + excluded.remote_peer_bytes`,
              local_peer_bytes: sql`${trafficBucket.local_peer_bytes} + excluded.local_peer_bytes`,
              active_tasks: sql`excluded.active_tasks`,
              active_peers: sql`excluded.active_peers`,
              hosts: sql`excluded.hosts`,
              reported_at: sql`excluded.reported_at`,
            },
          });
        // One row per (task, child, parent): merge duplicates first, as one INSERT may not touch a row twice.
        const merged = new Map<string, StatsReport["transfers"][number]>();
        for (const t of report.transfers) {
          const key = `${t.taskId}\u0000${t.child.id}\u0000${t.parent?.id ?? ""}`;
          const known = merged.get(key);
          if (known) merged.set(key, { ...known, bytes: known.bytes + t.bytes, pieces: known.pieces + t.pieces });
          else merged.set(key, t);
        }
        const rows = [...merged.values()].map((t) => ({
          tenant_id: row.tenant_id,
          scheduler_cluster_id: row.cluster,
          task_id: t.taskId,
          child_host_id: t.child.id,
          child_hostname: t.child.hostname,
          child_ip: t.child.ip,
          child_type: t.child.type || "normal",
          parent_host_id: t.parent?.id ?? "",
          parent_hostname: t.parent?.hostname ?? "",
          parent_ip: t.parent?.ip ?? "",
          parent_type: t.parent ? t.parent.type || "normal" : "",
          bytes: t.bytes,
          pieces: t.pieces,
          created_at: reportedAt,
          updated_at: reportedAt,
        }));
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
          await tx
            .insert(taskTransfer)
            .values(rows.slice(i, i + INSERT_CHUNK))
            .onConflictDoUpdate({
              target: [taskTransfer.scheduler_cluster_id, taskTransfer.task_id, taskTransfer.child_host_id, taskTransfer.parent_host_id],
              set: {
                bytes: sql`${taskTransfer.bytes} + excluded.bytes`,
                pieces: sql`${taskTransfer.pieces} + excluded.pieces`,
                child_hostname: sql`excluded.child_hostname`,
                child_ip: sql`excluded.child_ip`,
                child_type: sql`excluded.child_type`,
                parent_hostname: sql`excluded.parent_hostname`,
                parent_ip: sql`excluded.parent_ip`,
                parent_type: sql`excluded.parent_type`,
                updated_at: sql`excluded.updated_at`,
              },
            });
        }
      });
      if (report.seedPeers && report.seedPeers.length > 0) {
        if (await upsertSeedPeers(row.cluster, report.seedPeers, report.intervalMs || DEFAULT_REPORT_INTERVAL_MS, reportedAt)) changed();
      }
      await prune(now);
    },

    /** Bytes by type per step over a range, zero where nothing was reported, with totals and the hit ratio. */
    async traffic(actor: Actor, query: { scheduler_cluster_id?: number; from?: string; to?: string; step?: number }, now = Date.now()) {
      const to = query.to ? Date.parse(query.to) : now;
      const from = query.from ? Date.parse(query.from) : to - DEFAULT_RANGE_MS;
      if (!(from < to)) throw new InvalidArgument(`Invalid "from": must be before "to"`);
      const bucketMs = BUCKET_SECONDS * 1000;
      const step =
        query.step ?? Math.max(BUCKET_SECONDS, Math.ceil((to - from) / 1000 / DEFAULT_POINTS / BUCKET_SECONDS) * BUCKET_SECONDS);
      const stepMs = step * 1000;
      // Points start on step boundaries, so the same range always yields the same points.
      const first = Math.floor(from / stepMs) * stepMs;
      const points = Math.ceil((to - first) / stepMs);
      if (points > MAX_POINTS) throw new InvalidArgument(`Invalid "step": ${points} points, at most ${MAX_POINTS}; use a larger step or a shorter range`);
      if (query.scheduler_cluster_id !== undefined) {
        const [cluster] = await db
          .select({ id: schedulerCluster.id })
          .from(schedulerCluster)
          .where(scoped(actor, schedulerCluster, eq(schedulerCluster.id, query.scheduler_cluster_id)));
        if (!cluster) throw new NotFound(`Scheduler cluster "${query.scheduler_cluster_id}" not found`);
      }
      // The step is inlined (a checked integer) so that SELECT and GROUP BY are the same expression.
      const slot = sql<number>`floor(extract(epoch from ${trafficBucket.bucket_start}) * 1000 / ${sql.raw(String(stepMs))})`;
      const rows = await db
        .select({
          slot,
          source: sql<string>`sum(${trafficBucket.back_to_source_bytes})`,
          peer: sql<string>`sum(${trafficBucket.remote_peer_bytes})`,
          local: sql<string>`sum(${trafficBucket.local_peer_bytes})`,
        })
        .from(trafficBucket)
        .where(
          and(
            tenantScope(actor, trafficBucket.tenant_id),
            query.scheduler_cluster_id !== undefined ? eq(trafficBucket.scheduler_cluster_id, query.scheduler_cluster_id) : undefined,
            gte(trafficBucket.bucket_start, new Date(Math.floor(first / bucketMs) * bucketMs)),
            lt(trafficBucket.bucket_start, new Date(to)),
          ),
        )
        .groupBy(slot);
      const bySlot = new Map(rows.map((r) => [Number(r.slot), r]));
      const series = [];
      const totals = { back_to_source_bytes: 0, peer_bytes: 0, local_bytes: 0 };
      for (let i = 0; i < points; i++) {
        const at = first + i * stepMs;
        const r = bySlot.get(at / stepMs);
        const point = {
          time: new Date(at).toISOString(),
          back_to_source_bytes: Number(r?.source ?? 0),
          peer_bytes: Number(r?.peer ?? 0),
          local_bytes: Number(r?.local ?? 0),
        };
        totals.back_to_source_bytes += point.back_to_source_bytes;
        totals.peer_bytes += point.peer_bytes;
        totals.local_bytes += point.local_bytes;
        series.push(point);
      }
      const all = totals.back_to_source_bytes + totals.peer_bytes + totals.local_bytes;
      return {
        scheduler_cluster_id: query.scheduler_cluster_id ?? null,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        step_seconds: step,
        series,
        totals,
        hit_ratio: all > 0 ? (totals.peer_bytes + totals.local_bytes) / all : null,
      };
    },

    /** Per scheduler cluster: live schedulers and seed peers, and the live schedulers' last reported counts. */
    async clusterStats(actor: Actor) {
      const clusters = await db
        .select({ id: schedulerCluster.id, name: schedulerCluster.name })
        .from(schedulerCluster)
        .where(scoped(actor, schedulerCluster))
        .orderBy(asc(schedulerCluster.id));
      if (clusters.length === 0) return [];
      const ids = clusters.map((c) => c.id);
      const live = await db
        .select({ id: scheduler.id, cluster: scheduler.scheduler_cluster_id })
        .from(scheduler)
        .where(and(inArray(scheduler.scheduler_cluster_id, ids), alive(scheduler)));
      const seeds = await db
        .select({ cluster: seedPeerClusterSchedulerCluster.scheduler_cluster_id, n: sql<string>`count(distinct ${seedPeer.id})` })
        .from(seedPeerClusterSchedulerCluster)
        .innerJoin(seedPeer, eq(seedPeer.seed_peer_cluster_id, seedPeerClusterSchedulerCluster.seed_peer_cluster_id))
        .where(and(inArray(seedPeerClusterSchedulerCluster.scheduler_cluster_id, ids), alive(seedPeer)))
        .groupBy(seedPeerClusterSchedulerCluster.scheduler_cluster_id);
      const latest =
        live.length === 0
          ? []
          : rowsOf<{ scheduler_id: number; active_tasks: number; active_peers: number; hosts: number; reported_at: Date | string }>(
              await db.execute(sql`select distinct on (${trafficBucket.scheduler_id}) ${trafficBucket.scheduler_id} as scheduler_id,
                  ${trafficBucket.active_tasks} as active_tasks, ${trafficBucket.active_peers} as active_peers,
                  ${trafficBucket.hosts} as hosts, ${trafficBucket.reported_at} as reported_at
                from ${trafficBucket}
                where ${inArray(trafficBucket.scheduler_id, live.map((s) => s.id))}
                  and ${trafficBucket.bucket_start} > now() - interval '10 minutes'
                order by ${trafficBucket.scheduler_id}, ${trafficBucket.bucket_start} desc`),
            );
      const clusterOf = new Map(live.map((s) => [s.id, s.cluster]));
      return clusters.map((c) => {
        const reports = latest.filter((r) => clusterOf.get(Number(r.scheduler_id)) === c.id);
        const reportedAt = reports.reduce<number | null>((t, r) => Math.max(t ?? 0, Date.parse(iso(r.reported_at))), null);
        return {
          scheduler_cluster_id: c.id,
          name: c.name,
          schedulers: live.filter((s) => s.cluster === c.id).length,
          seed_peers: Number(seeds.find((s) => s.cluster === c.id)?.n ?? 0),
          active_tasks: reports.reduce((t, r) => t + Number(r.active_tasks), 0),
          active_peers: reports.reduce((t, r) => t + Number(r.active_peers), 0),
          hosts: reports.reduce((t, r) => t + Number(r.hosts), 0),
          reported_at: reportedAt === null ? null : new Date(reportedAt).toISOString(),
        };
      });
    },

    /** Tasks with the latest transfers, newest first, so that their graphs can be found without knowing an ID. */
    async recentTasks(actor: Actor, query: { scheduler_cluster_id?: number; limit: number }) {
      const last = sql<Date | string>`max(${taskTransfer.updated_at})`;
      const rows = await db
        .select({
          task_id: taskTransfer.task_id,
          scheduler_cluster_id: taskTransfer.scheduler_cluster_id,
          hosts: sql<string>`count(distinct ${taskTransfer.child_host_id})`,
          bytes: sql<string>`sum(${taskTransfer.bytes})`,
          source: sql<string>`coalesce(sum(${taskTransfer.bytes}) filter (where ${taskTransfer.parent_host_id} = ''), 0)`,
          last,
        })
        .from(taskTransfer)
        .where(
          and(
            tenantScope(actor, taskTransfer.tenant_id),
            query.scheduler_cluster_id !== undefined ? eq(taskTransfer.scheduler_cluster_id, query.scheduler_cluster_id) : undefined,
          ),
        )
        .groupBy(taskTransfer.task_id, taskTransfer.scheduler_cluster_id)
        .orderBy(sql`max(${taskTransfer.updated_at}) desc`)
        .limit(query.limit);
      return rows.map((r) => ({
        task_id: r.task_id,
        scheduler_cluster_id: r.scheduler_cluster_id,
        hosts: Number(r.hosts),
        bytes: Number(r.bytes),
        back_to_source_bytes: Number(r.source),
        last_transfer_at: iso(r.last),
      }));
    },

    /** Who got pieces of a task from whom: hosts as nodes (the origin as `origin`), transfers as edges. */
    async taskGraph(actor: Actor, taskId: string, clusterId?: number) {
      const rows = await db
        .select()
        .from(taskTransfer)
        .where(and(tenantScope(actor, taskTransfer.tenant_id), eq(taskTransfer.task_id, taskId), clusterId !== undefined ? eq(taskTransfer.scheduler_cluster_id, clusterId) : undefined))
        .orderBy(asc(taskTransfer.created_at));
      const nodes = new Map<string, { id: string; hostname: string; ip: string; host_type: string; received_bytes: number; served_bytes: number; pieces: number }>();
      const node = (id: string, hostname: string, ip: string, type: string) => {
        let n = nodes.get(id);
        if (!n) nodes.set(id, (n = { id, hostname: hostname || id, ip, host_type: type || "normal", received_bytes: 0, served_bytes: 0, pieces: 0 }));
        return n;
      };
      const edges = new Map<string, { parent: string; child: string; bytes: number; pieces: number; updated_at: string }>();
      for (const r of rows) {
        const child = node(r.child_host_id, r.child_hostname, r.child_ip, r.child_type);
        const parent = r.parent_host_id ? node(r.parent_host_id, r.parent_hostname, r.parent_ip, r.parent_type) : node("origin", "origin", "", "origin");
        child.received_bytes += r.bytes;
        child.pieces += r.pieces;
        parent.served_bytes += r.bytes;
        const key = `${parent.id}\u0000${child.id}`;
        const edge = edges.get(key);
        if (edge) {
          edge.bytes += r.bytes;
          edge.pieces += r.pieces;
          edge.updated_at = iso(r.updated_at) > edge.updated_at ? iso(r.updated_at) : edge.updated_at;
        } else {
          edges.set(key, { parent: parent.id, child: child.id, bytes: r.bytes, pieces: r.pieces, updated_at: iso(r.updated_at) });
        }
      }
      return { task_id: taskId, scheduler_cluster_id: clusterId ?? null, peers: [...nodes.values()], edges: [...edges.values()] };
    },
  };
}

/** The stats service type. */
export type StatsService = ReturnType<typeof createStatsService>;
