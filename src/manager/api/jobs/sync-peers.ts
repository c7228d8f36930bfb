/** Merges a scheduler's host inventory (a sync_peers result) into the peer table of its cluster. */
import { and, eq, notInArray, sql } from "drizzle-orm";
import { peer } from "../../db/schema.ts";
import type { Database } from "../../db/database.ts";

/** One host as a scheduler reports it. */
interface ReportedHost {
  hostname?: unknown;
  ip?: unknown;
  type?: unknown;
  port?: unknown;
  download_port?: unknown;
  proxy_port?: unknown;
  idc?: unknown;
  location?: unknown;
  os?: unknown;
  platform?: unknown;
  platform_family?: unknown;
  platform_version?: unknown;
  kernel_version?: unknown;
  git_version?: unknown;
  git_commit?: unknown;
  build_platform?: unknown;
}

const str = (value: unknown) => (typeof value === "string" ? value : "");
const int = (value: unknown) => (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 65535 ? value : 0);

/**
 * Upserts the reported hosts as active peers and removes the cluster's peers no longer reported, as
 * Dragonfly's sync_peers does; returns how many peers the cluster has afterwards.
 */
export async function mergePeers(db: Database, tenantId: number, clusterId: number, result: Record<string, unknown> | null): Promise<number> {
  const hosts = Array.isArray(result?.hosts) ? (result.hosts as ReportedHost[]) : [];
  const rows = hosts
    .filter((h) => str(h.hostname) && str(h.ip))
    .map((h) => ({
      tenant_id: tenantId,
      scheduler_cluster_id: clusterId,
      host_name: str(h.hostname),
      ip: str(h.ip),
      type: str(h.type) || "normal",
      port: int(h.port),
      download_port: int(h.download_port),
      proxy_port: int(h.proxy_port),
      idc: str(h.idc),
      location: str(h.location),
      state: "active",
      os: str(h.os),
      platform: str(h.platform),
      platform_family: str(h.platform_family),
      platform_version: str(h.platform_version),
      kernel_version: str(h.kernel_version),
      git_version: str(h.git_version),
      git_commit: str(h.git_commit),
      build_platform: str(h.build_platform),
    }));
  const unique = [...new Map(rows.map((r) => [`${r.host_name}\n${r.ip}`, r])).values()];
  const keys = unique.map((r) => `${r.host_name}\n${r.ip}`);
  const stale = keys.length > 0 ? notInArray(sql`${peer.host_name} || E'\\n' || ${peer.ip}`, keys) : undefined;
  await db.delete(peer).where(and(eq(peer.scheduler_cluster_id, clusterId), stale));
  for (let i = 0; i < unique.length; i += 500) {
    const batch = unique.slice(i, i + 500);
    await db
      .insert(peer)
      .values(batch)
      .onConflictDoUpdate({
        target: [peer.host_name, peer.ip, peer.scheduler_cluster_id],
        set: {
          type: sql`excluded.type`,
          port: sql`excluded.port`,
          download_port: sql`excluded.download_port`,
          proxy_port: sql`excluded.proxy_port`,
          idc: sql`excluded.idc`,
          location: sql`excluded.location`,
          state: "active",
          os: sql`excluded.os`,
          platform: sql`excluded.platform`,
          platform_family: sql`excluded.platform_family`,
          platform_version: sql`excluded.platform_version`,
          kernel_version: sql`excluded.kernel_version`,
          git_version: sql`excluded.git_version`,
          git_commit: sql`excluded.git_commit`,
          build_platform: sql`excluded.build_platform`,
          updated_at: new Date(),
        },
      });
  }
  return unique.length;
}
