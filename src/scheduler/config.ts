/** The scheduler's configuration: Dragonfly's camelCase YAML keys, validated at start-up. */
import { hostname as osHostname, networkInterfaces } from "node:os";
import { z } from "zod";
import { loadConfig, type LoadConfigOptions } from "../common/config.ts";
import { managerAddressSchema } from "../common/manager-transport.ts";
import { parseDuration } from "../common/units.ts";

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    const ms = parseDuration(value);
    if (ms < 0) throw new Error(`Invalid duration "${value}": must not be negative`);
    return ms;
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const positiveDuration = duration.refine((ms) => ms > 0, { message: "must be greater than zero" });
const port = z.number().int().min(0).max(65535);
const ip = z.union([z.ipv4(), z.ipv6()]);
const count = z.number().int().min(0);

/** Default gRPC port of the scheduler. */
export const DEFAULT_SCHEDULER_PORT = 8002;
/** Default port of the health and metrics HTTP server. */
export const DEFAULT_METRICS_PORT = 8000;

/** The schema of scheduler.yaml. */
export const schedulerConfigSchema = z.strictObject({
  server: z
    .strictObject({
      /** IP announced to the manager and peers. */
      advertiseIP: ip.optional(),
      /** IP the gRPC server binds. */
      listenIP: ip.default("0.0.0.0"),
      port: port.default(DEFAULT_SCHEDULER_PORT),
      /** Hostname reported to the manager. */
      host: z.string().min(1).optional(),
      /** Where state that must survive a restart is kept (persistent cache metadata); in memory only when unset. */
      dataDir: z.string().min(1).optional(),
    })
    .prefault({}),
  host: z
    .strictObject({
      idc: z.string().default(""),
      location: z.string().default(""),
    })
    .prefault({}),
  scheduler: z
    .strictObject({
      /** `default` is Libellula's evaluator; `dragonfly` is Dragonfly's v2.3.4+ evaluator verbatim. */
      algorithm: z.enum(["default", "dragonfly"]).default("default"),
      backToSourceCount: count.default(200),
      retryBackToSourceLimit: count.default(4),
      retryLimit: count.default(5),
      retryInterval: duration.default(500),
      candidateParentLimit: z.number().int().min(1).max(20).default(3),
      filterParentLimit: z.number().int().min(1).max(1000).default(15),
      /** Normal children per task a normal peer serves at once while other parents can (0 = no limit). */
      peerChildLimit: count.default(1),
      gc: z
        .strictObject({
          peerGCInterval: positiveDuration.default(10_000),
          peerTTL: positiveDuration.default(86_400_000),
          taskGCInterval: positiveDuration.default(1_800_000),
          hostGCInterval: positiveDuration.default(300_000),
          hostTTL: positiveDuration.default(3_600_000),
          pieceDownloadTimeout: positiveDuration.default(1_800_000),
        })
        .prefault({}),
    })
    .prefault({}),
  seedPeer: z
    .strictObject({
      enable: z.boolean().default(true),
      /** How long a seed's failure on a task keeps the task from triggering seeds again. */
      failedTimeout: positiveDuration.default(1_800_000),
      /** How long new peers wait for a triggered seed to register before going back to source themselves. */
      registerTimeout: positiveDuration.default(15_000),
      /** Downloading peers per engaged seed above which one more seed joins a hot task (0 = never). */
      hotTaskPeerThreshold: count.default(8),
      /** Normal children per task a seed serves at once while other peers can relay (0 = no limit). */
      childLimit: count.default(1),
    })
    .prefault({}),
  manager: z
    .strictObject({
      /** The manager: gRPC `host:port`, or an http(s) URL (Connect over HTTP/1.1, unary calls only: edge-hosted managers). */
      addr: managerAddressSchema.optional(),
      schedulerClusterID: z.number().int().min(1).default(1),
      keepAlive: z.strictObject({ interval: positiveDuration.default(5_000) }).prefault({}),
      /** How often traffic and activity are reported to the manager (the console's dashboard and task graphs). */
      statsInterval: positiveDuration.default(10_000),
    })
    .prefault({}),
  dynConfig: z.strictObject({ refreshInterval: positiveDuration.default(60_000) }).prefault({}),
  /** Jobs claimed from the manager: preheat, get_task, delete_task, sync_peers. */
  job: z
    .strictObject({
      enable: z.boolean().default(true),
      /** How often the manager is asked for job tasks. */
      claimInterval: positiveDuration.default(1_000),
      /** How long a claim holds without renewal; a dead scheduler's tasks move on after it. */
      lease: positiveDuration.default(30_000),
      /** Job tasks run at once. */
      concurrency: z.number().int().min(1).max(1000).default(8),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enable: z.boolean().default(true),
      server: z.strictObject({ ip: ip.default("0.0.0.0"), port: port.default(DEFAULT_METRICS_PORT) }).prefault({}),
    })
    .prefault({}),
  log: z.strictObject({ level: z.enum(["debug", "info", "warn", "error"]).default("info") }).prefault({}),
});

/** Validated scheduler configuration; durations are milliseconds. */
export type SchedulerConfig = z.output<typeof schedulerConfigSchema>;

/** Reads and validates a scheduler config; throws ConfigError naming the key. */
export function loadSchedulerConfig(options: LoadConfigOptions = {}): SchedulerConfig {
  return loadConfig(schedulerConfigSchema, options);
}

/** The first non-internal IPv4 address of this machine, or loopback. */
export function preferredIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const address of list ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return "127.0.0.1";
}

/** The address and name this scheduler announces. */
export function advertisedIdentity(config: SchedulerConfig): { ip: string; hostname: string } {
  return { ip: config.server.advertiseIP ?? preferredIp(), hostname: config.server.host ?? osHostname() };
}
