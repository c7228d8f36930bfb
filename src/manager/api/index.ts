/** Registers every REST route of /api/v1 and /oapi/v1. */
import { z } from "@hono/zod-openapi";
import type { Services } from "../services.ts";
import { intervalFromConfig } from "../liveness.ts";
import { applicationRoutes } from "./applications/routes.ts";
import { clusterRoutes } from "./clusters/routes.ts";
import { configRoutes } from "./configs/routes.ts";
import { instanceRoutes } from "./instance-routes.ts";
import { jobRoutes } from "./jobs/routes.ts";
import { CreatePeer, Peer, PeerFilter } from "./peers/types.ts";
import { tokenRoutes } from "./personal-access-tokens/routes.ts";
import { roleRoutes } from "./roles/routes.ts";
import { defineRoute, type ApiApp, type RouteDeps } from "./route.ts";
import { schedulerClusterRoutes } from "./scheduler-clusters/routes.ts";
import { CreateScheduler, FEATURES, Scheduler, SchedulerFilter, UpdateScheduler } from "./schedulers/types.ts";
import { seedPeerClusterRoutes } from "./seed-peer-clusters/routes.ts";
import { statsRoutes } from "./stats/routes.ts";
import { CreateSeedPeer, SeedPeer, SeedPeerFilter, UpdateSeedPeer } from "./seed-peers/types.ts";
import { tenantRoutes } from "./tenants/routes.ts";
import { userRoutes } from "./users/routes.ts";

/** Registers the routes. */
export function registerRoutes(app: ApiApp, deps: RouteDeps, services: Services): void {
  const fallbackMs = services.config.keepAlive.intervalMs;
  userRoutes(app, deps, services.users, services.auth);
  roleRoutes(app, deps, services.roles);
  tenantRoutes(app, deps, services.tenants);
  tokenRoutes(app, deps, services.tokens);
  clusterRoutes(app, deps, services.clusters, "/api/v1/clusters", { group: "clusters" }, "Clusters");
  schedulerClusterRoutes(app, deps, services.schedulerClusters);
  instanceRoutes(app, deps, services.schedulers, {
    base: "/api/v1/schedulers", tag: "Schedulers", group: "schedulers", noun: "scheduler",
    create: CreateScheduler, update: UpdateScheduler, item: Scheduler, filter: SchedulerFilter,
    toRow: (body) => {
      const config = body.config as Record<string, unknown> | undefined;
      return config ? { ...body, keep_alive_interval_ms: intervalFromConfig(config, fallbackMs) } : body;
    },
  });
  defineRoute(app, deps, { method: "get", path: "/api/v1/scheduler-features", tag: "Schedulers", summary: "List scheduler features", auth: { group: "scheduler-features" }, response: z.array(z.string()) },
    async () => [...FEATURES]);
  seedPeerClusterRoutes(app, deps, services.seedPeerClusters);
  instanceRoutes(app, deps, services.seedPeers, {
    base: "/api/v1/seed-peers", tag: "Seed peers", group: "seed-peers", noun: "seed peer",
    create: CreateSeedPeer, update: UpdateSeedPeer, item: SeedPeer, filter: SeedPeerFilter,
  });
  instanceRoutes(app, deps, services.peers, {
    base: "/api/v1/peers", tag: "Peers", group: "peers", noun: "peer", create: CreatePeer, item: Peer, filter: PeerFilter,
  });
  statsRoutes(app, deps, services.stats);
  applicationRoutes(app, deps, services.applications);
  configRoutes(app, deps, services.configs);
  jobRoutes(app, deps, services.jobs, "/api/v1/jobs", { group: "jobs" }, "Jobs");
  jobRoutes(app, deps, services.jobs, "/oapi/v1/jobs", { token: "job", group: "jobs" }, "Open API: jobs");
  clusterRoutes(app, deps, services.clusters, "/oapi/v1/clusters", { token: "cluster", group: "clusters" }, "Open API: clusters");
}
