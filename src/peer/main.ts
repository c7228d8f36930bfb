/** dfdaemon: the peer (and, with seedPeer.enable, the seed peer) of every node. */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createClient } from "@connectrpc/connect";
import { DfdaemonUpload } from "../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { ConfigError, configOverrides, flag, loadConfig, parseArgs } from "../common/config.ts";
import { errorMessage, PieceNotFound } from "../common/errors.ts";
import { hostId as makeHostId } from "../common/ids.ts";
import { runServices, type Service } from "../common/lifecycle.ts";
import { createLogger, setLogLevel } from "../common/log.ts";
import { opsHandler } from "../common/metrics.ts";
import { createGrpcClient, startGrpcServer, type GrpcServer } from "../common/rpc.ts";
import { VERSION, versionLine } from "../common/version.ts";
import { RateLimiter } from "../common/rate-limiter.ts";
import { dfdaemonConfigSchema, resolveIdentity, type DfdaemonConfig } from "./config.ts";
import { SchedulerClient } from "./download/scheduler-client.ts";
import { TaskManager } from "./download/task-manager.ts";
import { Dynconfig } from "./dynconfig.ts";
import { describeHost } from "./host.ts";
import { PersistentCacheManager } from "./persistent-cache/manager.ts";
import { createPeerMetrics } from "./metrics.ts";
import { createProxy } from "./proxy/index.ts";
import { createUpstreamFetch } from "./proxy/upstream-fetch.ts";
import { downloadRoutes } from "./rpc/download-service.ts";
import { uploadRoutes } from "./rpc/upload-service.ts";
import { AZURE_BLOB_SCHEMES, createAzureBlobSource } from "./source/azure-blob.ts";
import { createHdfsSource } from "./source/hdfs.ts";
import { createHttpSource } from "./source/http.ts";
import { createHuggingFaceSource } from "./source/hugging-face.ts";
import { createModelScopeSource } from "./source/model-scope.ts";
import { createObjectStorageSource, OBJECT_STORAGE_SCHEMES } from "./source/object-storage.ts";
import { SourceRegistry } from "./source/source.ts";
import { collectGarbage } from "./storage/gc.ts";
import { Storage } from "./storage/storage.ts";
import { createTransportMetrics } from "./transport/metrics.ts";
import { createDaemonTransports } from "./transport/select.ts";
import { limitedPieceTransport } from "./transport/transport.ts";
import { createVortexServer } from "./transport/vortex/server.ts";

const USAGE = `Usage: dfdaemon [--config FILE] [--<config.key> VALUE]...

Runs the peer daemon. Every key of the YAML config can be given as a flag, e.g.
  --host.ip 10.0.0.5 --storage.dir /var/lib/dragonfly --seedPeer.enable true
  --scheduler.addrs '["10.0.0.1:8002"]'
Options:
  --config FILE       YAML config (Dragonfly's dfdaemon.yaml keys)
  --validate-config   check the config file and flags, print "config OK: FILE" and exit without starting
  -h, --help          this help
  -V, --version       print the version`;

/** A running dfdaemon, for tests and the all-in-one cluster. */
export interface Dfdaemon extends AsyncDisposable {
  config: DfdaemonConfig;
  hostId: string;
  uploadPort: number;
  vortexPort: number;
  proxyPort: number;
  healthPort: number;
  metricsPort: number;
  socketPath: string;
  metrics: ReturnType<typeof createPeerMetrics>;
  storage: Storage;
  services: Service[];
  stop(): Promise<void>;
}

/** Builds and starts a dfdaemon from a validated config. */
export async function startDfdaemon(config: DfdaemonConfig): Promise<Dfdaemon> {
  setLogLevel(config.log.level);
  const identity = resolveIdentity(config);
  const hostId = makeHostId(identity.ip, identity.hostname, identity.seed);
  const log = createLogger({ component: "dfdaemon", hostId });
  const metrics = createPeerMetrics();
  const storage = new Storage({ dir: config.storage.dir, keep: config.storage.keep, log });
  storage.start();
  metrics.registry.gauge("libellula_stored_task_count", "Tasks in storage", () => storage.list().length);
  const pieceTransports = createDaemonTransports({
    protocol: config.download.protocol,
    downloadCompression: config.download.compression,
    uploadCompression: config.upload.compression,
    timeoutMs: config.download.pieceTimeout,
    log: log.child({ component: "transport" }),
    metrics: createTransportMetrics(metrics.registry),
  });
  const sources = new SourceRegistry()
    .register(["http", "https"], createHttpSource({ fetch: createUpstreamFetch(config.proxy) }))
    .register([...OBJECT_STORAGE_SCHEMES], createObjectStorageSource())
    .register([...AZURE_BLOB_SCHEMES], createAzureBlobSource())
    .register(["hdfs"], createHdfsSource())
    .register(["hf"], createHuggingFaceSource())
    .register(["modelscope"], createModelScopeSource());
  const uploadClients = new Map<string, ReturnType<typeof createClient<typeof DfdaemonUpload>>>();
  const transports: { close(): void }[] = [];
  const dial = (address: string) => {
    let client = uploadClients.get(address);
    if (!client) {
      const transport = createGrpcClient(address, { timeoutMs: 10_000 });
      transports.push(transport);
      client = createClient(DfdaemonUpload, transport);
      uploadClients.set(address, client);
    }
    return client;
  };

  let uploadPort = config.upload.server.port;
  let vortexPort = config.storage.server.tcpPort;
  let proxyPort = config.proxy.server.port;
  const schedulers = new SchedulerClient({
    addresses: config.scheduler.addrs,
    announceIntervalMs: config.scheduler.announceInterval,
    log,
    host: () =>
      describeHost(
        {
          hostId,
          ip: identity.ip,
          hostname: identity.hostname,
          seed: identity.seed,
          idc: config.host.idc,
          location: config.host.location,
          schedulerClusterId: config.host.schedulerClusterID,
          uploadPort,
          proxyPort,
          disableShared: config.upload.disableShared,
        },
        storage,
      ),
  });
  const dynconfig = config.manager.addr
    ? new Dynconfig({
        managerAddress: config.manager.addr,
        token: config.manager.token,
        refreshIntervalMs: config.dynconfig.refreshInterval,
        host: { ...identity, idc: config.host.idc, location: config.host.location, schedulerClusterId: config.host.schedulerClusterID },
        fallback: config.scheduler.addrs,
        log,
        onSchedulers: (addresses) => {
          schedulers.setAddresses(addresses);
          void schedulers.announceHost();
        },
      })
    : undefined;
  // download.bandwidthLimit: every piece this host downloads, from parents or the source, is charged its length first.
  const downloadLimiter = config.download.bandwidthLimit ? new RateLimiter(config.download.bandwidthLimit) : undefined;
  const downloadTransport = downloadLimiter ? limitedPieceTransport(pieceTransports.transport, downloadLimiter) : pieceTransports.transport;
  const taskManager = new TaskManager({
    storage,
    sources,
    schedulers,
    transport: downloadTransport,
    downloadLimiter,
    dial,
    identity: { ...identity, hostId },
    onSourcePiece: (piece) => {
      const task = storage.get(piece.taskId);
      if (task) pieceTransports.precompress({ ...piece, path: task.path });
    },
    settings: {
      concurrentPieceCount: config.download.concurrentPieceCount,
      pieceTimeoutMs: config.download.pieceTimeout,
      collectedPieceTimeoutMs: Math.min(config.download.collectedPieceTimeout, 30_000),
      scheduleTimeoutMs: config.scheduler.scheduleTimeout,
      maxScheduleCount: config.scheduler.maxScheduleCount,
      disableBackToSource: config.backToSource.disable,
    },
    metrics,
    log,
  });

  const persistentCache = new PersistentCacheManager({
    storage,
    schedulers,
    transport: downloadTransport,
    dial,
    identity: { ...identity, hostId },
    settings: {
      concurrentPieceCount: config.download.concurrentPieceCount,
      pieceTimeoutMs: config.download.pieceTimeout,
      collectedPieceTimeoutMs: Math.min(config.download.collectedPieceTimeout, 30_000),
      scheduleTimeoutMs: config.scheduler.scheduleTimeout,
      maxScheduleCount: config.scheduler.maxScheduleCount,
    },
    metrics,
    log,
  });

  const proxy = createProxy({
    config: config.proxy,
    tasks: taskManager,
    storage,
    storageDir: config.storage.dir,
    serverIp: identity.ip,
    registry: metrics.registry,
    log,
  });

  const uploadLimiter = config.upload.bandwidthLimit ? new RateLimiter(config.upload.bandwidthLimit) : undefined;
  const vortex = createVortexServer({
    host: config.storage.server.ip ?? identity.ip,
    port: config.storage.server.tcpPort,
    log: log.child({ component: "vortex" }),
    ...pieceTransports.server,
    async resolvePiece(taskId, number, kind, { streamed }) {
      const task = storage.get(taskId);
      const piece = task?.pieces.get(number);
      if (task && !piece && streamed && kind === "standard" && !config.upload.disableShared) {
        // Still arriving here: a child that accepts streamed pieces takes the bytes as they land.
        const inflight = storage.inflight.get(taskId, number);
        if (inflight && !inflight.outcome && inflight.streamable) {
          await uploadLimiter?.take(inflight.length);
          return {
            path: task.path,
            offset: inflight.offset,
            inflight,
            metadata: {
              number,
              offset: inflight.offset,
              length: inflight.length,
              digest: "",
              parentId: "",
              costSeconds: 0,
              createdAtSeconds: Math.floor(Date.now() / 1000),
            },
          };
        }
      }
      if (!task || !piece || config.upload.disableShared) throw new PieceNotFound(taskId, number);
      // Charged per piece before serving, as Dragonfly's upload limit is.
      await uploadLimiter?.take(piece.length);
      return {
        path: task.path,
        offset: piece.offset,
        metadata: {
          number,
          offset: piece.offset,
          length: piece.length,
          digest: piece.digest,
          parentId: piece.parentId,
          costSeconds: Math.round(piece.costMs / 1000),
          createdAtSeconds: Math.floor(piece.createdAt / 1000),
        },
      };
    },
    onServed(info) {
      if (info.error) return;
      metrics.uploadTrafficBytes.inc({}, info.bytes);
      metrics.uploadPieces.inc();
      storage.countUpload(info.taskId);
    },
  });

  let uploadServer: GrpcServer | undefined;
  let downloadServer: GrpcServer | undefined;
  let healthServer: ReturnType<typeof Bun.serve> | undefined;
  let metricsServer: ReturnType<typeof Bun.serve> | undefined;
  let gcTimer: ReturnType<typeof setInterval> | undefined;
  let ready = false;
  const socketPath = config.download.server.socketPath;
  const ops = opsHandler(metrics.registry, () => ready);

  const services: Service[] = [
    {
      name: "vortex",
      start: async () => {
        await vortex.start();
        vortexPort = vortex.port;
      },
      stop: async () => {
        await vortex.stop();
        // Stopped last of the parts that use it: downloads stop first, then the server.
        pieceTransports.close();
      },
    },
    {
      name: "upload",
      start: async () => {
        uploadServer = await startGrpcServer({
          routes: uploadRoutes({
            storage,
            taskManager,
            sources,
            hostId,
            dataAddress: () => ({ ip: config.storage.server.ip ?? identity.ip, tcpPort: vortexPort }),
            disableShared: config.upload.disableShared,
            log,
            persistentCache,
          }),
          listen: { host: config.upload.server.ip, port: config.upload.server.port },
        });
        uploadPort = uploadServer.port;
      },
      stop: async () => uploadServer?.stop(),
    },
    {
      name: "download",
      start: async () => {
        mkdirSync(dirname(socketPath), { recursive: true });
        downloadServer = await startGrpcServer({
          routes: downloadRoutes({ storage, taskManager, sources, schedulers, hostId, log, persistentCache }),
          listen: { path: socketPath },
        });
      },
      stop: async () => downloadServer?.stop(),
    },
    {
      name: "proxy",
      start: async () => {
        await proxy.start();
        proxyPort = proxy.port;
      },
      stop: () => proxy.stop(),
    },
    {
      name: "ops",
      start: async () => {
        healthServer = Bun.serve({ hostname: "0.0.0.0", port: config.health.server.port, fetch: ops });
        metricsServer = Bun.serve({ hostname: "0.0.0.0", port: config.metrics.server.port, fetch: ops });
      },
      stop: async () => {
        await healthServer?.stop(true);
        await metricsServer?.stop(true);
      },
    },
    {
      name: "scheduler",
      start: async () => {
        if (dynconfig) await dynconfig.start();
        await schedulers.start();
      },
      stop: async () => {
        await dynconfig?.stop();
        await schedulers.stop();
      },
    },
    {
      name: "tasks",
      start: async () => {
        gcTimer = setInterval(() => {
          try {
            const busy = new Set([...taskManager.activeTaskIds(), ...persistentCache.activeTaskIds()]);
            for (const id of collectGarbage(storage, config.gc.policy, busy, log)) {
              schedulers.deleteTask(id).catch(() => {});
            }
          } catch (error) {
            log.warn("Garbage collection failed", { error: errorMessage(error) });
          }
        }, config.gc.interval);
        gcTimer.unref?.();
        ready = true;
        log.info("dfdaemon ready", {
          version: VERSION,
          seed: identity.seed,
          ip: identity.ip,
          uploadPort,
          vortexPort,
          proxyPort,
          socketPath,
          healthPort: healthServer?.port,
          metricsPort: metricsServer?.port,
          schedulers: config.scheduler.addrs,
        });
      },
      stop: async () => {
        ready = false;
        clearInterval(gcTimer);
        await taskManager.stop();
        await persistentCache.stop();
        for (const transport of transports) transport.close();
        storage.stop();
      },
    },
  ];

  const started: Service[] = [];
  const stop = async () => {
    for (const service of started.reverse()) {
      await service.stop().catch((error) => log.warn(`Cannot stop ${service.name} cleanly`, { error: errorMessage(error) }));
    }
    started.length = 0;
  };
  try {
    for (const service of services) {
      await service.start();
      started.push(service);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    config,
    hostId,
    uploadPort,
    vortexPort,
    proxyPort,
    healthPort: healthServer?.port ?? 0,
    metricsPort: metricsServer?.port ?? 0,
    socketPath,
    metrics,
    storage,
    services,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Runs dfdaemon with command-line arguments; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ["help", "version", "validate-config"], { h: "help", V: "version" });
  if (flag(args, "help")) {
    console.log(USAGE);
    return 0;
  }
  if (flag(args, "version")) {
    console.log(versionLine("dfdaemon"));
    return 0;
  }
  const unknown = Object.keys(args.flags).filter((f) => !f.includes(".") && !["config", "help", "version", "validate-config"].includes(f));
  if (unknown.length > 0 || args.positionals.length > 0) {
    console.error(`dfdaemon: unknown argument "${unknown[0] ?? args.positionals[0]}"\n\n${USAGE}`);
    return 2;
  }
  let config: DfdaemonConfig;
  try {
    config = loadConfig(dfdaemonConfigSchema, { file: flag(args, "config"), overrides: configOverrides(args) });
  } catch (error) {
    console.error(`dfdaemon: ${error instanceof ConfigError ? error.message : errorMessage(error)}`);
    return 2;
  }
  if (flag(args, "validate-config")) {
    console.log(`config OK: ${flag(args, "config") ?? "(defaults and flags)"}`);
    return 0;
  }
  const log = createLogger({ component: "dfdaemon" });
  let daemon: Dfdaemon;
  try {
    daemon = await startDfdaemon(config);
  } catch (error) {
    console.error(`dfdaemon: cannot start: ${errorMessage(error)}`);
    return 1;
  }
  return runServices([{ name: "dfdaemon", start: async () => {}, stop: () => daemon.stop() }], log);
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
