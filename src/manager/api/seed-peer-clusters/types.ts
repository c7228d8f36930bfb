/** Seed peer cluster shapes. */
import { z } from "@hono/zod-openapi";
import { id, jsonObject, name, storable, text, timestamps } from "../schemas.ts";

/** A seed peer cluster's config (`load_limit` 1–50,000). */
export const SeedPeerClusterConfig = storable(
  z.object({ load_limit: z.number().int().min(1).max(50_000).optional(), block_list: jsonObject().optional() }).loose(),
).openapi("SeedPeerClusterConfig");

/** Body of POST /seed-peer-clusters. */
export const CreateSeedPeerCluster = z
  .object({
    name: name(1, 256),
    bio: text(1024).optional(),
    config: SeedPeerClusterConfig.optional(),
    tenant_id: id().optional(),
  })
  .openapi("CreateSeedPeerClusterRequest");

/** Body of PATCH /seed-peer-clusters/{id}. */
export const UpdateSeedPeerCluster = CreateSeedPeerCluster.omit({ tenant_id: true }).partial().openapi("UpdateSeedPeerClusterRequest");

/** A seed peer cluster. */
export const SeedPeerCluster = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    name: z.string(),
    bio: z.string(),
    config: z.record(z.string(), z.unknown()),
    ...timestamps,
  })
  .openapi("SeedPeerCluster");

/** Query of GET /seed-peer-clusters. */
export const SeedPeerClusterFilter = z.object({ name: text(256).optional() });
