/** Builds a scheduler from its config: model, scheduling, gRPC server, GC and the manager client. */
import type { ConnectRouter } from "@connectrpc/connect";
import { Scheduler as SchedulerServiceDesc } from "../gen/scheduler/v2/scheduler_pb.ts";
import { healthRoutes } from "../common/grpc-health.ts";
import type { Service } from "../common/lifecycle.ts";
import { createLogger, type Logger } from "../common/log.ts";
import { Registry } from "../common/metrics.ts";
import { startGrpcServer, type GrpcServer } from "../common/rpc.ts";
import { advertisedIdentity, type SchedulerConfig } from "./config.ts";
import { ResourceGc } from "./gc.ts";
import { createDfdaemonClient, type DfdaemonClient } from "./job/dfdaemon-client.ts";
import { createJobExecutors } from "./job/executors.ts";
import { createSiblingSchedulers } from "./job/sibling-schedulers.ts";
import { JobWorker } from "./job/worker.ts";
import { ManagerClient, type Dynconfig } from "./manager-client.ts";
import { createPersistentCache, type PersistentCache, type PersistentCacheDfdaemonClient } from "./persistentcache/index.ts";
import { createSchedulerMetrics, type SchedulerMetrics } from "./metrics.ts";
import { createResource, type Resource } from "./resource/resource.ts";
import { SchedulerService } from "./rpc/scheduler-service.ts";
import { Scheduling } from "./scheduling/scheduling.ts";
import { SeedPeers, createSeedPeerClient, type SeedPeerClient } from "./scheduling/seed-peer.ts";
import { StatsReporter, TrafficStats } from "./stats.ts";
import { settingsFromConfig, type SchedulingSettings } from "./scheduling/settings.ts";

/** Dependencies of a scheduler; all optional. */
export interface CreateSchedulerOptions {
  log?: Logger;
  registry?: Registry;
  /** How seeds are asked to download; gRPC DfdaemonUpload by default. */
  seedPeerClient?: SeedPeerClient;
  /** How jobs reach dfdaemons; gRPC DfdaemonUpload by default. */
  dfdaemonClient?: DfdaemonClient;
  /** How persistent cache tasks are replicated and deleted on dfdaemons; gRPC DfdaemonUpload by default. */
  persistentCacheClient?: PersistentCacheDfdaemonClient;
}

/** A scheduler process's parts, started and stopped together. */
export interface SchedulerInstance extends Service, AsyncDisposable {
  readonly config: SchedulerConfig;
  readonly resource: Resource;
  readonly settings: SchedulingSettings;
  readonly seeds: SeedPeers;
  readonly scheduling: Scheduling;
  readonly service: SchedulerService;
  readonly gc: ResourceGc;
  readonly metrics: SchedulerMetrics;
  readonly registry: Registry;
  readonly manager: ManagerClient | undefined;
  readonly jobs: JobWorker | undefined;
  /** Traffic counted since the last report to the manager. */
  readonly traffic: TrafficStats;
  /** Persistent cache tasks (dfcache import/export). */
  readonly persistentCache: PersistentCache;
  /** The bound gRPC port (after start). */
  readonly port: number;
}

/** Applies the manager's cluster config to the live settings and seed list. */
export function applyDynconfig(settings: SchedulingSettings, seeds: SeedPeers, dynconfig: Dynconfig): void {
  if (dynconfig.candidateParentLimit !== undefined) settings.candidateParentLimit = dynconfig.candidateParentLimit;
  if (dynconfig.filterParentLimit !== undefined) settings.filterParentLimit = dynconfig.filterParentLimit;
  if (dynconfig.normalLoadLimit !== undefined) settings.normalLoadLimit = dynconfig.normalLoadLimit;
  if (dynconfig.seedLoadLimit !== undefined) settings.seedLoadLimit = dynconfig.seedLoadLimit;
  settings.applications = dynconfig.applications;
  seeds.setExternalSeeds(dynconfig.seedPeers);
}

/** Builds a scheduler; nothing listens until start(). */
export function createScheduler(config: SchedulerConfig, options: CreateSchedulerOptions = {}): SchedulerInstance {
  const log = options.log ?? createLogger({ component: "scheduler" });
  const registry = options.registry ?? new Registry();
  const resource = createResource();
  const metrics = createSchedulerMetrics(registry, resource);
  const settings = settingsFromConfig(config);
  const seeds = new SeedPeers({
    hosts: resource.hosts,
    client: options.seedPeerClient ?? createSeedPeerClient(),
    log,
    failedTimeoutMs: config.seedPeer.failedTimeout,
    registerTimeoutMs: config.seedPeer.registerTimeout,
    hotTaskPeerThreshold: config.seedPeer.hotTaskPeerThreshold,
    onTrigger: (result) => metrics.seedPeerTriggers.inc({ result }),
  });
  const onDecision = (decision: string) => metrics.decisions.inc({ decision });
  const scheduling = new Scheduling({ settings, seeds, log, onDecision });
  const traffic = new TrafficStats();
  const persistentCache = createPersistentCache({
    hosts: resource.hosts,
    log,
    client: options.persistentCacheClient,
    candidateParentLimit: () => settings.candidateParentLimit,
    ...(config.server.dataDir ? { dataDir: config.server.dataDir } : {}),
  });
  const service = new SchedulerService({
    resource,
    scheduling,
    seeds,
    settings,
    log,
    seedPeerEnabled: config.seedPeer.enable,
    onRequest: (type) => metrics.announcePeerRequests.inc({ type }),
    onDecision,
    onHostDeleted: () => void persistentCache.sweep(),
    onPiece: config.manager.addr ? (peer, piece, fromSource, parent) => traffic.recordPiece(peer, piece, fromSource, parent) : undefined,
    preheat: (args, signal) => executors.preheat!(args as unknown as Record<string, unknown>, signal),
  });
  const identity = advertisedIdentity(config);
  const dfdaemon = options.dfdaemonClient ?? createDfdaemonClient();
  const forgetTask = (taskId: string) => {
    if (resource.tasks.load(taskId)) service.deleteTask("", taskId);
  };
  const siblings = config.manager.addr
    ? createSiblingSchedulers({
        managerAddr: config.manager.addr,
        clusterId: config.manager.schedulerClusterID,
        self: () => ({ hostname: identity.hostname, ip: identity.ip, port: server?.port ?? 0 }),
      })
    : undefined;
  const executors = createJobExecutors({ resource, seeds, dfdaemon, ip: identity.ip, clusterId: config.manager.schedulerClusterID, log, forgetTask, siblings });
  const g = config.scheduler.gc;
  const gc = new ResourceGc({
    resource,
    log,
    releaseChildren: (parentId, children) => scheduling.releaseChildren(parentId, children),
    peerGCIntervalMs: g.peerGCInterval,
    peerTTLMs: g.peerTTL,
    taskGCIntervalMs: g.taskGCInterval,
    hostGCIntervalMs: g.hostGCInterval,
    hostTTLMs: g.hostTTL,
    pieceDownloadTimeoutMs: g.pieceDownloadTimeout,
  });
  let server: GrpcServer | undefined;
  let manager: ManagerClient | undefined;
  let jobs: JobWorker | undefined;
  let reporter: StatsReporter | undefined;

  const instance: SchedulerInstance = {
    name: "scheduler",
    config,
    resource,
    settings,
    seeds,
    scheduling,
    service,
    gc,
    metrics,
    registry,
    get manager() {
      return manager;
    },
    get jobs() {
      return jobs;
    },
    traffic,
    persistentCache,
    get port() {
      return server?.port ?? 0;
    },
    async start() {
      server = await startGrpcServer({
        routes: (router: ConnectRouter) => {
          router.service(SchedulerServiceDesc, { ...service.implementation(), ...persistentCache.implementation() });
          healthRoutes(router, [SchedulerServiceDesc.typeName]);
        },
        listen: { host: config.server.listenIP, port: config.server.port },
      });
      await gc.start();
      await persistentCache.start();
      if (config.manager.addr) {
        manager = new ManagerClient({
          addr: config.manager.addr,
          hostname: identity.hostname,
          ip: identity.ip,
          port: server.port,
          idc: config.host.idc,
          location: config.host.location,
          clusterId: config.manager.schedulerClusterID,
          keepAliveIntervalMs: config.manager.keepAlive.interval,
          refreshIntervalMs: config.dynConfig.refreshInterval,
          log,
          onDynconfig: (dynconfig) => applyDynconfig(settings, seeds, dynconfig),
        });
        await manager.start();
        reporter = new StatsReporter({
          addr: config.manager.addr,
          hostname: identity.hostname,
          ip: identity.ip,
          clusterId: config.manager.schedulerClusterID,
          intervalMs: config.manager.statsInterval,
          stats: traffic,
          resource,
          log,
        });
        await reporter.start();
        if (config.job.enable) {
          jobs = new JobWorker({
            addr: config.manager.addr,
            hostname: identity.hostname,
            ip: identity.ip,
            clusterId: config.manager.schedulerClusterID,
            executors,
            log,
            claimIntervalMs: config.job.claimInterval,
            leaseMs: config.job.lease,
            concurrency: config.job.concurrency,
          });
          await jobs.start();
        }
      }
    },
    async stop() {
      await jobs?.stop();
      await reporter?.stop();
      dfdaemon.close();
      await manager?.stop();
      await gc.stop();
      await persistentCache.stop();
      seeds.stop();
      // Open AnnouncePeer streams end cleanly so the server can close without waiting on them.
      for (const peer of resource.peers.all()) peer.stream?.close();
      await server?.stop();
      server = undefined;
    },
    async [Symbol.asyncDispose]() {
      await instance.stop();
    },
  };
  return instance;
}
