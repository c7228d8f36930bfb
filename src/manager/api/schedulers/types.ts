/** Scheduler shapes. */
import { z } from "@hono/zod-openapi";
import { id, ip, jsonObject, name, port, text, timestamps } from "../schemas.ts";

/** Scheduler features Dragonfly knows. */
export const FEATURES = ["schedule", "preheat"] as const;

/** Body of POST /schedulers. */
export const CreateScheduler = z
  .object({
    host_name: name(1, 256),
    ip: ip(),
    port: port().min(1),
    idc: text(1024).optional(),
    location: text(1024).optional(),
    features: z.array(z.enum(FEATURES)).max(8).optional(),
    config: jsonObject().optional(),
    scheduler_cluster_id: id(),
  })
  .openapi("CreateSchedulerRequest");

/** Body of PATCH /schedulers/{id}. */
export const UpdateScheduler = CreateScheduler.omit({ host_name: true, scheduler_cluster_id: true })
  .extend({ state: z.enum(["active", "inactive"]).optional() })
  .partial()
  .openapi("UpdateSchedulerRequest");

/** A scheduler. */
export const Scheduler = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    host_name: z.string(),
    idc: z.string(),
    location: z.string(),
    ip: z.string(),
    port: z.number().int(),
    state: z.enum(["active", "inactive"]),
    features: z.array(z.string()),
    config: z.record(z.string(), z.unknown()),
    keep_alive_interval_ms: z.number().int(),
    last_keep_alive_at: z.string().nullable(),
    git_version: z.string().openapi({ description: "Release the scheduler reports with its stats; empty until it does" }),
    git_commit: z.string(),
    scheduler_cluster_id: z.number().int(),
    ...timestamps,
  })
  .openapi("Scheduler");

/** Query of GET /schedulers. */
export const SchedulerFilter = z.object({
  host_name: text(256).optional(),
  ip: text(64).optional(),
  state: z.enum(["active", "inactive"]).optional(),
  scheduler_cluster_id: id().optional(),
});
