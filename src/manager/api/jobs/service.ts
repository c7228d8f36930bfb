/**
 * Jobs: one row per request plus one job_task per scheduler cluster. Schedulers claim tasks over RPC with
 * a lease (FOR UPDATE SKIP LOCKED) and report results; the job's state follows the moment its last task ends.
 */
import { and, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { job, jobSchedulerCluster, jobTask, schedulerCluster } from "../../db/schema.ts";
import type { Database } from "../../db/database.ts";
import { rowsOf } from "../../db/migrate.ts";
import { FailedPrecondition, guard, InvalidArgument, NotFound, RateLimited } from "../../errors.ts";
import { sweep } from "../../liveness.ts";
import { hit } from "../../ratelimit.ts";
import { defined, getOwned, pageOf, pickTenant, scoped, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import { mergePeers } from "./sync-peers.ts";
import { PreheatArgs, TaskArgs, type CreateJob, type UpdateJob } from "./types.ts";

/** A job row. */
export type JobRow = typeof job.$inferSelect;
/** A job task row. */
export type JobTaskRow = typeof jobTask.$inferSelect;

/** Preheat defaults (Dragonfly's service.CreatePreheatJob). */
export const PREHEAT_DEFAULTS = {
  scope: "single_seed_peer",
  concurrent_task_count: 8,
  concurrent_peer_count: 500,
  timeout: 60 * 60 * 1_000_000_000,
};
/** Claims of one task before it fails for good. */
export const MAX_ATTEMPTS = 3;
/** Default claim lease. */
export const DEFAULT_LEASE_MS = 60_000;
/** Default job rate limit per cluster and second. */
const DEFAULT_JOB_RATE_LIMIT = 10;

/** Validates and normalizes args for a job type. */
export function normalizeArgs(type: string, args: Record<string, unknown> | undefined): Record<string, unknown> {
  const input = args ?? {};
  if (type === "preheat") {
    const parsed = PreheatArgs.safeParse(input);
    if (!parsed.success) throw new InvalidArgument(`Invalid args: ${parsed.error.issues.map((i) => `"${i.path.join(".")}": ${i.message}`).join("; ")}`);
    const value = parsed.data;
    const urls = [...(value.urls ?? []), ...(value.type === "file" && value.url ? [value.url] : [])];
    return {
      ...value,
      ...(value.type === "file" ? { urls: [...new Set(urls)] } : {}),
      scope: value.scope || PREHEAT_DEFAULTS.scope,
      concurrent_task_count: value.concurrent_task_count || PREHEAT_DEFAULTS.concurrent_task_count,
      concurrent_peer_count: value.concurrent_peer_count || PREHEAT_DEFAULTS.concurrent_peer_count,
      timeout: value.timeout || PREHEAT_DEFAULTS.timeout,
    };
  }
  if (type === "get_task" || type === "delete_task") {
    const parsed = TaskArgs.safeParse(input);
    if (!parsed.success) throw new InvalidArgument(`Invalid args: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    return parsed.data;
  }
  return input;
}

/** The aggregate state of a job's tasks: any failure fails it, any unfinished keeps it pending. */
export function aggregateState(states: string[]): "PENDING" | "SUCCESS" | "FAILURE" {
  if (states.some((s) => s === "PENDING" || s === "RUNNING")) return "PENDING";
  if (states.some((s) => s === "FAILURE")) return "FAILURE";
  return "SUCCESS";
}

/** Settles a job whose tasks have all ended, in the caller's transaction. */
export async function settleJob(db: Database, jobId: number): Promise<void> {
  await db.execute(sql`select 1 from "job" where "id" = ${jobId} for update`);
  const tasks = await db.select().from(jobTask).where(eq(jobTask.job_id, jobId)).orderBy(jobTask.id);
  const state = aggregateState(tasks.map((t) => t.state));
  if (state === "PENDING") return;
  const now = new Date();
  await db
    .update(job)
    .set({
      state,
      updated_at: now,
      result: {
        group_uuid: (await db.select({ task_id: job.task_id }).from(job).where(eq(job.id, jobId)))[0]?.task_id ?? "",
        state,
        job_states: tasks.map((t) => ({
          task_uuid: `task_${t.id}`,
          task_name: t.type,
          state: t.state,
          results: t.result ? [t.result] : [],
          error: t.error,
          created_at: t.created_at,
          ttl: 0,
        })),
        created_at: tasks[0]?.created_at ?? now,
        updated_at: now,
      },
    })
    .where(and(eq(job.id, jobId), eq(job.state, "PENDING")));
}

/** Creates the job service. */
export function createJobService({ db }: ServiceDeps) {
  async function clustersOf(jobIds: number[]): Promise<Map<number, { id: number; name: string }[]>> {
    const out = new Map<number, { id: number; name: string }[]>();
    if (jobIds.length === 0) return out;
    const rows = await db
      .select({ job_id: jobSchedulerCluster.job_id, id: schedulerCluster.id, name: schedulerCluster.name })
      .from(jobSchedulerCluster)
      .innerJoin(schedulerCluster, eq(schedulerCluster.id, jobSchedulerCluster.scheduler_cluster_id))
      .where(inArray(jobSchedulerCluster.job_id, jobIds))
      .orderBy(schedulerCluster.id);
    for (const row of rows) {
      const list = out.get(row.job_id) ?? [];
      list.push({ id: row.id, name: row.name });
      out.set(row.job_id, list);
    }
    return out;
  }

  function jobJson(row: JobRow, clusters: { id: number; name: string }[] = []) {
    return { ...row, is_del: 0, scheduler_clusters: clusters, seed_peer_clusters: [] as { id: number; name: string }[] };
  }

  const service = {
    async list(actor: Actor, query: PageRequest & { type?: string; state?: string; user_id?: number }) {
      const conditions: SQL[] = [];
      if (query.type) conditions.push(eq(job.type, query.type));
      if (query.state) conditions.push(eq(job.state, query.state));
      if (query.user_id) conditions.push(eq(job.user_id, query.user_id));
      const page = await pageOf<JobRow>(db, job, scoped(actor, job, ...conditions), query, { newestFirst: true, orderBy: job.id });
      const clusters = await clustersOf(page.items.map((j) => j.id));
      return { items: page.items.map((j) => jobJson(j, clusters.get(j.id))), total: page.total } satisfies Page<unknown>;
    },

    async get(actor: Actor, id: number) {
      const row = await getOwned<JobRow>(db, job, actor, id, "Job");
      return jobJson(row, (await clustersOf([id])).get(id));
    },

    async create(actor: Actor, input: z.output<typeof CreateJob>) {
      const tenantId = pickTenant(actor, input.tenant_id);
      const args = normalizeArgs(input.type, input.args);
      let clusters: (typeof schedulerCluster.$inferSelect)[];
      if (input.scheduler_cluster_ids && input.scheduler_cluster_ids.length > 0) {
        clusters = [];
        for (const clusterId of new Set(input.scheduler_cluster_ids)) {
          const cluster = await getOwned<typeof schedulerCluster.$inferSelect>(db, schedulerCluster, actor, clusterId, "Scheduler cluster");
          if (cluster.tenant_id !== tenantId) throw new NotFound(`Scheduler cluster "${clusterId}" not found`);
          clusters.push(cluster);
        }
      } else {
        clusters = await db.select().from(schedulerCluster).where(eq(schedulerCluster.tenant_id, tenantId)).orderBy(schedulerCluster.id);
      }
      if (input.type !== "gc" && clusters.length === 0) throw new FailedPrecondition("No scheduler cluster to run the job");
      for (const cluster of clusters) {
        const limit = Number(cluster.config.job_rate_limit ?? DEFAULT_JOB_RATE_LIMIT) || DEFAULT_JOB_RATE_LIMIT;
        if ((await hit(db, `job:${cluster.id}`, 1)) > limit) throw new RateLimited("Rate limit exceeded");
      }
      const row = await guard("Job", () =>
        db.transaction(async (tx) => {
          const [created] = await tx
            .insert(job)
            .values({
              tenant_id: tenantId,
              task_id: `group_${crypto.randomUUID()}`,
              bio: input.bio ?? "",
              type: input.type,
              args,
              user_id: input.user_id ?? actor.userId,
            })
            .returning();
          if (clusters.length > 0) {
            await tx.insert(jobSchedulerCluster).values(clusters.map((c) => ({ job_id: created!.id, scheduler_cluster_id: c.id })));
          }
          if (input.type === "gc") {
            const purged = await sweep(tx as unknown as Database);
            const [done] = await tx
              .update(job)
              .set({ state: "SUCCESS", result: { purged, error: "" }, updated_at: new Date() })
              .where(eq(job.id, created!.id))
              .returning();
            return done!;
          }
          await tx.insert(jobTask).values(clusters.map((c) => ({ job_id: created!.id, scheduler_cluster_id: c.id, type: input.type })));
          return created!;
        }),
      );
      return jobJson(row, clusters.map((c) => ({ id: c.id, name: c.name })));
    },

    async update(actor: Actor, id: number, input: z.output<typeof UpdateJob>) {
      await getOwned<JobRow>(db, job, actor, id, "Job");
      await db.update(job).set({ ...defined(input), updated_at: new Date() }).where(eq(job.id, id));
      return await service.get(actor, id);
    },

    async remove(actor: Actor, id: number): Promise<void> {
      await getOwned<JobRow>(db, job, actor, id, "Job");
      await db.delete(job).where(eq(job.id, id));
    },

    /** Claims pending (or lease-expired) tasks of a cluster the actor sees. */
    async claim(
      actor: Actor,
      request: { clusterId: number; claimer: string; types: string[]; limit: number; leaseMs: number },
    ): Promise<(JobTaskRow & { args: Record<string, unknown>; job_type: string })[]> {
      await getOwned(db, schedulerCluster, actor, request.clusterId, "Scheduler cluster");
      const typeFilter = request.types.length > 0 ? sql`and "type" in (${sql.join(request.types.map((t) => sql`${t}`), sql`, `)})` : sql``;
      const claimed = rowsOf<{ id: number }>(
        await db.execute(sql`
          update "job_task" set "state" = 'RUNNING', "attempts" = "attempts" + 1, "claimed_by" = ${request.claimer},
            "lease_expires_at" = now() + make_interval(secs => ${request.leaseMs / 1000}), "updated_at" = now()
          where "id" in (
            select "id" from "job_task"
            where "scheduler_cluster_id" = ${request.clusterId} ${typeFilter}
              and ("state" = 'PENDING' or ("state" = 'RUNNING' and "lease_expires_at" < now() and "attempts" < ${MAX_ATTEMPTS}))
            order by "id" limit ${request.limit} for update skip locked)
          returning "id"`),
      );
      if (claimed.length === 0) return [];
      const rows = await db
        .select({ task: jobTask, args: job.args, job_type: job.type })
        .from(jobTask)
        .innerJoin(job, eq(job.id, jobTask.job_id))
        .where(inArray(jobTask.id, claimed.map((c) => Number(c.id))))
        .orderBy(jobTask.id);
      return rows.map((r) => ({ ...r.task, args: r.args, job_type: r.job_type }));
    },

    /** Extends the leases of tasks the claimer still runs; returns how many it still holds. */
    async renew(actor: Actor, request: { clusterId: number; claimer: string; ids: number[]; leaseMs: number }): Promise<number> {
      if (request.ids.length === 0) return 0;
      await getOwned(db, schedulerCluster, actor, request.clusterId, "Scheduler cluster");
      const renewed = await db
        .update(jobTask)
        .set({ lease_expires_at: sql`now() + make_interval(secs => ${request.leaseMs / 1000})`, updated_at: new Date() })
        .where(
          and(
            inArray(jobTask.id, request.ids),
            eq(jobTask.scheduler_cluster_id, request.clusterId),
            eq(jobTask.claimed_by, request.claimer),
            eq(jobTask.state, "RUNNING"),
          ),
        )
        .returning({ id: jobTask.id });
      return renewed.length;
    },

    /** Records a claimed task's outcome and settles its job when it was the last. */
    async report(
      actor: Actor,
      request: { id: number; claimer: string; success: boolean; result: Record<string, unknown> | null; error: string },
    ): Promise<void> {
      const [task] = await db.select().from(jobTask).where(eq(jobTask.id, request.id));
      if (!task) throw new NotFound(`Job task "${request.id}" not found`);
      await getOwned(db, schedulerCluster, actor, task.scheduler_cluster_id, "Job task");
      if (task.state !== "RUNNING" || task.claimed_by !== request.claimer) {
        throw new FailedPrecondition(`Job task "${request.id}" is not claimed by "${request.claimer}"`);
      }
      await db.transaction(async (tx) => {
        await tx
          .update(jobTask)
          .set({ state: request.success ? "SUCCESS" : "FAILURE", result: request.result, error: request.error, updated_at: new Date() })
          .where(eq(jobTask.id, request.id));
        if (task.type === "sync_peers" && request.success) {
          const [owner] = await tx.select({ tenant_id: job.tenant_id }).from(job).where(eq(job.id, task.job_id));
          if (owner) await mergePeers(tx as unknown as Database, owner.tenant_id, task.scheduler_cluster_id, request.result);
        }
        await settleJob(tx as unknown as Database, task.job_id);
      });
    },

    /**
     * Fails tasks whose last lease expired after the final attempt, and unfinished tasks of jobs past their
     * `timeout` (Go nanoseconds, as Dragonfly's args), then settles those jobs at once.
     */
    async expire(): Promise<number> {
      const leased = await db
        .update(jobTask)
        .set({ state: "FAILURE", error: "Lease expired after the last attempt", updated_at: new Date() })
        .where(and(eq(jobTask.state, "RUNNING"), sql`${jobTask.lease_expires_at} < now()`, sql`${jobTask.attempts} >= ${MAX_ATTEMPTS}`))
        .returning({ job_id: jobTask.job_id });
      const timedOut = await db
        .update(jobTask)
        .set({ state: "FAILURE", error: "Job timed out: no scheduler of the cluster finished it in time", updated_at: new Date() })
        .where(
          and(
            inArray(jobTask.state, ["PENDING", "RUNNING"]),
            sql`${jobTask.job_id} in (
              select "id" from "job" where "state" = 'PENDING'
                and jsonb_typeof("args"->'timeout') = 'number' and ("args"->>'timeout')::numeric > 0
                and "created_at" + make_interval(secs => (("args"->>'timeout')::numeric / 1e9)::double precision) < now())`,
          ),
        )
        .returning({ job_id: jobTask.job_id });
      const failed = [...leased, ...timedOut];
      for (const jobId of new Set(failed.map((f) => f.job_id))) await db.transaction((tx) => settleJob(tx as unknown as Database, jobId));
      return failed.length;
    },

    /** Newest jobs first, for internal callers. */
    async recent(limit = 10): Promise<JobRow[]> {
      return await db.select().from(job).orderBy(desc(job.id)).limit(limit);
    },
  };
  return service;
}
