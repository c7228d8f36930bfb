/** Job shapes, as Dragonfly's `/api/v1/jobs` and Harbor's calls to `/oapi/v1/jobs`. */
import { z } from "@hono/zod-openapi";
import { id, jsonObject, storable, text, timestamps } from "../schemas.ts";

/** Job types Dragonfly accepts. */
export const JOB_TYPES = ["preheat", "sync_peers", "get_task", "get_image_distribution", "delete_task", "gc"] as const;
/** The only states a job shows (Harbor treats anything else as failure). */
export const JOB_STATES = ["PENDING", "SUCCESS", "FAILURE"] as const;
/** Image manifest URL form Dragonfly requires for image preheat. */
export const MANIFEST_URL = /^(.*):\/\/(.*)\/v2\/(.*)\/manifests\/(.*)$/;
/** Piece length bounds for preheat. */
const MIN_PIECE_LENGTH = 4 * 1024 * 1024;
const MAX_PIECE_LENGTH = 64 * 1024 * 1024;

/** Preheat args; unknown keys (Harbor's `concurrent_count`) pass through. */
export const PreheatArgs = storable(
  z
    .object({
      type: z.enum(["image", "file"]),
      url: text(4096).optional(),
      urls: z.array(text(4096)).max(10_000).optional(),
      piece_length: z.number().int().min(MIN_PIECE_LENGTH).max(MAX_PIECE_LENGTH).nullable().optional(),
      tag: text(1024).optional(),
      application: text(1024).optional(),
      filtered_query_params: text(4096).optional(),
      headers: z.record(text(256), text(8192)).nullable().optional(),
      username: text(1024).optional(),
      password: text(1024).optional(),
      platform: text(256).optional(),
      scope: z.enum(["", "single_seed_peer", "all_seed_peers", "all_peers"]).optional(),
      ips: z.array(text(64)).max(100).nullable().optional(),
      count: z.number().int().min(1).max(200).nullable().optional(),
      percentage: z.number().int().min(1).max(100).nullable().optional(),
      concurrent_task_count: z.number().int().min(0).max(100).optional(),
      concurrent_peer_count: z.number().int().min(0).max(1000).optional(),
      timeout: z.number().int().min(0).optional(),
    })
    .loose(),
).superRefine((args, ctx) => {
  if (args.type === "image" && !(args.url && MANIFEST_URL.test(args.url))) {
    ctx.addIssue({ code: "custom", path: ["url"], message: "Must be an image manifest URL like scheme://registry/v2/<repo>/manifests/<ref>" });
  }
  if (args.type === "file" && !args.url && !(args.urls && args.urls.length > 0)) {
    ctx.addIssue({ code: "custom", path: ["url"], message: "A file preheat needs url or urls" });
  }
});

/** Args of get_task and delete_task: a task ID, a URL or content. */
export const TaskArgs = storable(
  z
    .object({
      task_id: text(256).optional(),
      url: text(4096).optional(),
      content_for_calculating_task_id: text(65536).optional(),
      piece_length: z.number().int().min(MIN_PIECE_LENGTH).max(MAX_PIECE_LENGTH).nullable().optional(),
      tag: text(1024).optional(),
      application: text(1024).optional(),
      filtered_query_params: text(4096).optional(),
    })
    .loose(),
).refine((a) => Boolean(a.task_id || a.url || a.content_for_calculating_task_id), "Needs task_id, url or content_for_calculating_task_id");

/** Body of POST /jobs. */
export const CreateJob = z
  .object({
    type: z.enum(JOB_TYPES),
    bio: text(1024).optional(),
    args: jsonObject().optional(),
    user_id: id().nullable().optional(),
    scheduler_cluster_ids: z.array(id()).max(1000).nullable().optional(),
    seed_peer_cluster_ids: z.array(id()).max(1000).nullable().optional(),
    tenant_id: id().optional(),
  })
  .openapi("CreateJobRequest");

/** Body of PATCH /jobs/{id}. */
export const UpdateJob = z.object({ bio: text(1024).optional(), user_id: id().nullable().optional() }).openapi("UpdateJobRequest");

/** A job. */
export const Job = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    task_id: z.string(),
    bio: z.string(),
    type: z.enum(JOB_TYPES),
    state: z.enum(JOB_STATES),
    args: z.record(z.string(), z.unknown()),
    result: z.record(z.string(), z.unknown()).nullable(),
    user_id: z.number().int().nullable(),
    is_del: z.number().int(),
    scheduler_clusters: z.array(z.object({ id: z.number().int(), name: z.string() })),
    seed_peer_clusters: z.array(z.object({ id: z.number().int(), name: z.string() })),
    ...timestamps,
  })
  .openapi("Job");

/** Query of GET /jobs. */
export const JobFilter = z.object({
  type: z.enum(JOB_TYPES).optional(),
  state: z.enum(JOB_STATES).optional(),
  user_id: id().optional(),
});
