/** Builds every service with its dependencies; writes anywhere clear the read caches everywhere. */
import type { Auth } from "./auth/service.ts";
import type { ManagerConfig } from "./config.ts";
import type { Database } from "./db/database.ts";
import { createApplicationService } from "./api/applications/service.ts";
import { createClusterService } from "./api/clusters/service.ts";
import { createConfigService } from "./api/configs/service.ts";
import type { ServiceDeps } from "./api/deps.ts";
import { createInstanceService } from "./api/instances.ts";
import { createJobService } from "./api/jobs/service.ts";
import { createTokenService } from "./api/personal-access-tokens/service.ts";
import { createRoleService } from "./api/roles/service.ts";
import { createSchedulerClusterService } from "./api/scheduler-clusters/service.ts";
import { createSeedPeerClusterService } from "./api/seed-peer-clusters/service.ts";
import { createStatsService } from "./api/stats/service.ts";
import { createTenantService } from "./api/tenants/service.ts";
import { createUserService } from "./api/users/service.ts";
import { peer, scheduler, schedulerCluster, seedPeer, seedPeerCluster } from "./db/schema.ts";
import { createRegistry } from "./registry.ts";

/** Every service of the manager. */
export type Services = ReturnType<typeof createServices>;

/** Creates the services. */
export function createServices({ db, config, auth }: { db: Database; config: ManagerConfig; auth: Auth }) {
  const listeners: (() => void)[] = [];
  const deps: ServiceDeps = { db, config, changed: () => listeners.forEach((clear) => clear()) };
  const invalidateActors = () => auth.invalidate();
  const schedulerClusters = createSchedulerClusterService(deps);
  const registry = createRegistry(db, config, deps.changed);
  listeners.push(() => schedulerClusters.invalidate(), () => registry.invalidate());
  return {
    db,
    config,
    auth,
    registry,
    users: createUserService(deps, auth),
    roles: createRoleService(deps, invalidateActors),
    tenants: createTenantService(deps, invalidateActors),
    tokens: createTokenService(deps, invalidateActors),
    clusters: createClusterService(deps),
    schedulerClusters,
    seedPeerClusters: createSeedPeerClusterService(deps),
    schedulers: createInstanceService<typeof scheduler.$inferSelect>(
      db,
      { table: scheduler, clusterColumn: "scheduler_cluster_id", clusterTable: schedulerCluster, label: "Scheduler", clusterLabel: "Scheduler cluster" },
      deps.changed,
    ),
    seedPeers: createInstanceService<typeof seedPeer.$inferSelect>(
      db,
      { table: seedPeer, clusterColumn: "seed_peer_cluster_id", clusterTable: seedPeerCluster, label: "Seed peer", clusterLabel: "Seed peer cluster" },
      deps.changed,
    ),
    peers: createInstanceService<typeof peer.$inferSelect>(
      db,
      { table: peer, clusterColumn: "scheduler_cluster_id", clusterTable: schedulerCluster, label: "Peer", clusterLabel: "Scheduler cluster" },
      deps.changed,
    ),
    applications: createApplicationService(deps),
    configs: createConfigService(deps),
    jobs: createJobService(deps),
    stats: createStatsService(deps),
  };
}
