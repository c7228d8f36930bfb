/** Peer shapes (rows usually come from a sync_peers job). */
import { z } from "@hono/zod-openapi";
import { id, ip, name, port, text, timestamps } from "../schemas.ts";

const short = () => text(256).optional();

/** Body of POST /peers. */
export const CreatePeer = z
  .object({
    host_name: name(1, 256),
    type: z.enum(["normal", "super", "strong", "weak"]).optional(),
    idc: text(1024).optional(),
    location: text(1024).optional(),
    ip: ip(),
    port: port().optional(),
    download_port: port().optional(),
    proxy_port: port().optional(),
    object_storage_port: port().optional(),
    state: z.enum(["active", "inactive"]).optional(),
    os: short(),
    platform: short(),
    platform_family: short(),
    platform_version: short(),
    kernel_version: short(),
    git_version: short(),
    git_commit: short(),
    build_platform: short(),
    scheduler_cluster_id: id(),
  })
  .openapi("CreatePeerRequest");

/** A peer. */
export const Peer = CreatePeer.extend({
  id: z.number().int(),
  tenant_id: z.number().int(),
  ip: z.string(),
  ...timestamps,
}).openapi("Peer");

/** Query of GET /peers. */
export const PeerFilter = z.object({
  host_name: text(256).optional(),
  ip: text(64).optional(),
  state: z.enum(["active", "inactive"]).optional(),
  scheduler_cluster_id: id().optional(),
});
