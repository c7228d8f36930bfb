/** Seed peer shapes. */
import { z } from "@hono/zod-openapi";
import { id, ip, name, port, text, timestamps } from "../schemas.ts";

/** Body of POST /seed-peers. */
export const CreateSeedPeer = z
  .object({
    host_name: name(1, 256),
    type: z.enum(["super", "strong", "weak"]).optional(),
    idc: text(1024).optional(),
    location: text(1024).optional(),
    ip: ip(),
    port: port().min(1),
    download_port: port().optional(),
    object_storage_port: port().optional(),
    seed_peer_cluster_id: id(),
  })
  .openapi("CreateSeedPeerRequest");

/** Body of PATCH /seed-peers/{id}. */
export const UpdateSeedPeer = CreateSeedPeer.omit({ host_name: true, seed_peer_cluster_id: true })
  .extend({ state: z.enum(["active", "inactive"]).optional() })
  .partial()
  .openapi("UpdateSeedPeerRequest");

/** A seed peer. */
export const SeedPeer = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    host_name: z.string(),
    type: z.string(),
    idc: z.string(),
    location: z.string(),
    ip: z.string(),
    port: z.number().int(),
    download_port: z.number().int(),
    object_storage_port: z.number().int(),
    state: z.string(),
    keep_alive_interval_ms: z.number().int(),
    last_keep_alive_at: z.string().nullable().openapi({ description: "The last heartbeat" }),
    git_version: z.string().openapi({ description: "Release the seed peer reports; empty when it reports none" }),
    git_commit: z.string(),
    seed_peer_cluster_id: z.number().int(),
    ...timestamps,
  })
  .openapi("SeedPeer");

/** Query of GET /seed-peers. */
export const SeedPeerFilter = z.object({
  host_name: text(256).optional(),
  ip: text(64).optional(),
  state: z.enum(["active", "inactive"]).optional(),
  seed_peer_cluster_id: id().optional(),
});
