/** Shapes of the dashboard's data: traffic over time, live counts per cluster and a task's transfer graph. */
import { z } from "@hono/zod-openapi";
import { id } from "../schemas.ts";

/** Smallest step of a traffic series: the bucket the manager stores. */
export const BUCKET_SECONDS = 60;
/** Most points one traffic answer holds. */
export const MAX_POINTS = 2000;

const dateTime = () => z.iso.datetime({ offset: true }).openapi({ format: "date-time" });

/** Query of GET /traffic. */
export const TrafficQuery = z
  .object({
    scheduler_cluster_id: id().optional(),
    from: dateTime().optional().openapi({ description: "Start of the range (default: 24 hours before `to`)" }),
    to: dateTime().optional().openapi({ description: "End of the range (default: now)" }),
    step: z.coerce
      .number()
      .int()
      .min(BUCKET_SECONDS)
      .max(7 * 86400)
      .refine((s) => s % BUCKET_SECONDS === 0, `Must be a multiple of ${BUCKET_SECONDS}`)
      .optional()
      .openapi({ description: "Seconds per point, a multiple of 60 (default: the range divided into about 100 points)" }),
  });

/** One point of the traffic series: the bytes of the step that starts at `time`. */
export const TrafficPoint = z
  .object({
    time: z.string().openapi({ format: "date-time" }),
    back_to_source_bytes: z.number().int(),
    peer_bytes: z.number().int(),
    local_bytes: z.number().int(),
  })
  .openapi("TrafficPoint");

const TrafficTotals = z.object({ back_to_source_bytes: z.number().int(), peer_bytes: z.number().int(), local_bytes: z.number().int() });

/** GET /traffic. */
export const Traffic = z
  .object({
    scheduler_cluster_id: z.number().int().nullable(),
    from: z.string().openapi({ format: "date-time" }),
    to: z.string().openapi({ format: "date-time" }),
    step_seconds: z.number().int(),
    series: z.array(TrafficPoint),
    totals: TrafficTotals,
    hit_ratio: z.number().nullable().openapi({ description: "Share of bytes not fetched from the origin; null without traffic" }),
  })
  .openapi("Traffic");

/** One scheduler cluster's live counts. */
export const ClusterStats = z
  .object({
    scheduler_cluster_id: z.number().int(),
    name: z.string(),
    schedulers: z.number().int().openapi({ description: "Schedulers heartbeating now" }),
    seed_peers: z.number().int().openapi({ description: "Seed peers heartbeating now, of the seed peer clusters serving this cluster" }),
    active_tasks: z.number().int().openapi({ description: "Tasks the live schedulers hold, from their last reports" }),
    active_peers: z.number().int(),
    hosts: z.number().int(),
    reported_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("ClusterStats");

/** `{task_id}` path parameter. */
export const TaskParams = z.object({
  task_id: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,256}$/, "Must be 1 to 256 letters, digits or . _ : -")
    .openapi({ param: { name: "task_id", in: "path" }, example: "a".repeat(64) }),
});

/** Query of GET /tasks/{task_id}/graph. */
export const TaskGraphQuery = z.object({ scheduler_cluster_id: id().optional() });

/** A host that took part in the task, or `origin` for the source. */
export const GraphNode = z
  .object({
    id: z.string(),
    hostname: z.string(),
    ip: z.string(),
    host_type: z.string().openapi({ description: '"normal", "super", "strong", "weak", or "origin"' }),
    received_bytes: z.number().int(),
    served_bytes: z.number().int(),
    pieces: z.number().int().openapi({ description: "Pieces the host received" }),
  })
  .openapi("TaskGraphNode");

/** Pieces one node served another. */
export const GraphEdge = z
  .object({
    parent: z.string(),
    child: z.string(),
    bytes: z.number().int(),
    pieces: z.number().int(),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("TaskGraphEdge");

/** GET /tasks/{task_id}/graph. */
export const TaskGraph = z
  .object({
    task_id: z.string(),
    scheduler_cluster_id: z.number().int().nullable(),
    peers: z.array(GraphNode),
    edges: z.array(GraphEdge),
  })
  .openapi("TaskGraph");

/** Query of GET /traffic/tasks. */
export const RecentTasksQuery = z.object({
  scheduler_cluster_id: id().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

/** A task with transfers in the last seven days. */
export const RecentTask = z
  .object({
    task_id: z.string(),
    scheduler_cluster_id: z.number().int(),
    hosts: z.number().int().openapi({ description: "Hosts that received pieces" }),
    bytes: z.number().int().openapi({ description: "Bytes received by all hosts" }),
    back_to_source_bytes: z.number().int().openapi({ description: "Of which from the origin" }),
    last_transfer_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("RecentTask");
