/** Scheduler cluster shapes (Dragonfly's JSON keys and validation ranges). */
import { z } from "@hono/zod-openapi";
import { id, jsonObject, name, storable, text, timestamps } from "../schemas.ts";

/** A hostname pattern that compiles as a regular expression. */
const hostnamePattern = text(256).refine((pattern) => {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}, "Must be a valid regular expression");

/** Which peers a cluster serves: the searcher scores peers against these. */
export const Scopes = storable(
  z
    .object({
      idc: text(1024).optional(),
      location: text(1024).optional(),
      cidrs: z.array(z.union([z.cidrv4(), z.cidrv6()])).max(1000).optional(),
      hostnames: z.array(hostnamePattern).max(1000).optional(),
    })
    .loose(),
).openapi("SchedulerClusterScopes");

/** The scheduler-side config of a cluster. */
export const SchedulerClusterConfig = storable(
  z
    .object({
      candidate_parent_limit: z.number().int().min(1).max(20).optional(),
      filter_parent_limit: z.number().int().min(10).max(1000).optional(),
      job_rate_limit: z.number().int().min(1).max(1_000_000).optional(),
    })
    .loose(),
).openapi("SchedulerClusterConfig");

/** Config handed to the cluster's peers (`load_limit` 1–2000, block lists). */
export const ClientConfig = storable(
  z.object({ load_limit: z.number().int().min(1).max(2000).optional(), block_list: jsonObject().optional() }).loose(),
).openapi("SchedulerClusterClientConfig");

/** Config handed to the cluster's seed peers. */
export const SeedClientConfig = storable(
  z.object({ load_limit: z.number().int().min(1).max(50_000).optional(), block_list: jsonObject().optional() }).loose(),
).openapi("SchedulerClusterSeedClientConfig");

/** Body of POST /scheduler-clusters. */
export const CreateSchedulerCluster = z
  .object({
    name: name(1, 256),
    bio: text(1024).optional(),
    config: SchedulerClusterConfig.optional(),
    client_config: ClientConfig.optional(),
    seed_client_config: SeedClientConfig.optional(),
    scopes: Scopes.optional(),
    is_default: z.boolean().optional(),
    seed_peer_cluster_id: id().optional(),
    tenant_id: id().optional(),
  })
  .openapi("CreateSchedulerClusterRequest");

/** Body of PATCH /scheduler-clusters/{id}. */
export const UpdateSchedulerCluster = CreateSchedulerCluster.omit({ tenant_id: true })
  .partial()
  .openapi("UpdateSchedulerClusterRequest");

/** A scheduler cluster. */
export const SchedulerCluster = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    name: z.string(),
    bio: z.string(),
    config: z.record(z.string(), z.unknown()),
    client_config: z.record(z.string(), z.unknown()),
    seed_client_config: z.record(z.string(), z.unknown()),
    scopes: z.record(z.string(), z.unknown()),
    is_default: z.boolean(),
    ...timestamps,
  })
  .openapi("SchedulerCluster");

/** Query of GET /scheduler-clusters. */
export const SchedulerClusterFilter = z.object({ name: text(256).optional() });
