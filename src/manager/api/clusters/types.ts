/** The /clusters façade: one scheduler cluster plus one seed peer cluster of the same name. */
import { z } from "@hono/zod-openapi";
import { id, name, text, timestamps } from "../schemas.ts";
import { ClientConfig, SchedulerClusterConfig, Scopes, SeedClientConfig } from "../scheduler-clusters/types.ts";
import { SeedPeerClusterConfig } from "../seed-peer-clusters/types.ts";

/** Body of POST /clusters. */
export const CreateCluster = z
  .object({
    name: name(1, 256),
    bio: text(1024).optional(),
    scopes: Scopes.optional(),
    scheduler_cluster_config: SchedulerClusterConfig.optional(),
    seed_peer_cluster_config: SeedPeerClusterConfig.optional(),
    peer_cluster_config: ClientConfig.optional(),
    seed_client_config: SeedClientConfig.optional(),
    is_default: z.boolean().optional(),
    tenant_id: id().optional(),
  })
  .openapi("CreateClusterRequest");

/** Body of PATCH /clusters/{id}. */
export const UpdateCluster = CreateCluster.omit({ tenant_id: true }).partial().openapi("UpdateClusterRequest");

/** A cluster; `id` is the scheduler cluster's. */
export const Cluster = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    name: z.string(),
    bio: z.string(),
    scopes: z.record(z.string(), z.unknown()),
    scheduler_cluster_id: z.number().int(),
    seed_peer_cluster_id: z.number().int().nullable(),
    scheduler_cluster_config: z.record(z.string(), z.unknown()),
    seed_peer_cluster_config: z.record(z.string(), z.unknown()),
    peer_cluster_config: z.record(z.string(), z.unknown()),
    is_default: z.boolean(),
    ...timestamps,
  })
  .openapi("Cluster");

/** Query of GET /clusters. */
export const ClusterFilter = z.object({ name: text(256).optional() });
