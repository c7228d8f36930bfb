/** dfdaemon's configuration: Dragonfly's camelCase YAML keys, validated at start-up. */
import { hostname as osHostname, networkInterfaces } from "node:os";
import { z } from "zod";
import { managerAddressSchema } from "../common/manager-transport.ts";
import { parseByteSize, parseDuration } from "../common/units.ts";

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const byteSize = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseByteSize(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const port = z.number().int().min(0).max(65535);

function isRegex(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}
const ip = z.union([z.ipv4(), z.ipv6()]);

/** The first non-internal IPv4 address of this machine, or loopback. */
export function preferredIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const address of list ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return "127.0.0.1";
}

/** Default unix socket of the download service. */
export const DEFAULT_SOCKET_PATH = "/var/run/dragonfly/dfdaemon.sock";
/** Default storage directory. */
export const DEFAULT_STORAGE_DIR = "/var/lib/dragonfly";

/** The schema of dfdaemon.yaml. */
export const dfdaemonConfigSchema = z.strictObject({
  host: z
    .strictObject({
      ip: ip.optional(),
      hostname: z.string().min(1).optional(),
      idc: z.string().optional(),
      location: z.string().optional(),
      schedulerClusterID: z.number().int().min(0).optional(),
    })
    .prefault({}),
  // Accepted so that Dragonfly's dfdaemon.yaml files load as they are; unused: there are no plugins, and every
  // cached byte lives under storage.dir.
  server: z
    .strictObject({
      pluginDir: z.string().optional(),
      cacheDir: z.string().optional(),
    })
    .prefault({}),
  download: z
    .strictObject({
      server: z.strictObject({ socketPath: z.string().min(1).default(DEFAULT_SOCKET_PATH) }).prefault({}),
      /** `rdma` uses RDMA READ where this host and the parent both have a usable device, TCP otherwise. */
      protocol: z.enum(["tcp", "rdma"]).default("tcp"),
      /** Ask parents for zstd-compressed pieces (a Vortex extension); `none` speaks plain Vortex only. */
      compression: z.enum(["none", "auto", "zstd"]).default("none"),
      concurrentPieceCount: z.number().int().min(1).max(256).default(8),
      pieceTimeout: duration.default(360_000),
      collectedPieceTimeout: duration.default(360_000),
      bandwidthLimit: byteSize.optional(),
    })
    .prefault({}),
  upload: z
    .strictObject({
      server: z.strictObject({ ip: ip.default("0.0.0.0"), port: port.default(4000) }).prefault({}),
      disableShared: z.boolean().default(false),
      bandwidthLimit: byteSize.optional(),
      /** Compress pieces for children that ask: `auto` only when it pays, `zstd` whenever it shrinks them. */
      compression: z.enum(["none", "auto", "zstd"]).default("auto"),
    })
    .prefault({}),
  storage: z
    .strictObject({
      dir: z.string().min(1).default(DEFAULT_STORAGE_DIR),
      keep: z.boolean().default(false),
      server: z
        .strictObject({ ip: ip.optional(), tcpPort: port.default(4005) })
        .prefault({}),
    })
    .prefault({}),
  gc: z
    .strictObject({
      interval: duration.default(900_000),
      policy: z
        .strictObject({
          taskTTL: duration.default(2_592_000_000),
          diskHighThresholdPercent: z.number().min(1).max(100).default(80),
          diskLowThresholdPercent: z.number().min(1).max(100).default(60),
          diskThreshold: byteSize.optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  scheduler: z
    .strictObject({
      addrs: z.array(z.string().min(1)).default([]),
      announceInterval: duration.default(300_000),
      scheduleTimeout: duration.default(10_800_000),
      maxScheduleCount: z.number().int().min(1).default(5),
    })
    .prefault({}),
  manager: z
    .strictObject({
      /** The manager: gRPC `host:port` or an http(s) URL (Connect over HTTP/1.1); schedulers are then discovered with ListSchedulers. */
      addr: managerAddressSchema.optional(),
      /** A personal access token with the "rpc" scope, for managers that refuse anonymous RPC. */
      token: z.string().min(1).optional(),
    })
    .prefault({}),
  dynconfig: z.strictObject({ refreshInterval: duration.default(60_000) }).prefault({}),
  seedPeer: z.strictObject({ enable: z.boolean().default(false) }).prefault({}),
  backToSource: z
    .strictObject({ disable: z.boolean().default(false) })
    .prefault({}),
  proxy: z
    .strictObject({
      server: z
        .strictObject({
          ip: ip.default("0.0.0.0"),
          port: port.default(4001),
          /** PEM files of the CA that signs intercepted hosts' certificates; generated when unset. */
          caCert: z.string().min(1).optional(),
          caKey: z.string().min(1).optional(),
          basicAuth: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
        })
        .prefault({}),
      rules: z
        .array(
          z.strictObject({
            regex: z.string().min(1).refine(isRegex, "must be a valid regular expression"),
            useTLS: z.boolean().default(false),
            redirect: z.string().min(1).optional(),
            filteredQueryParams: z.array(z.string()).optional(),
          }),
        )
        .default([{ regex: "blobs/sha256.*", useTLS: false }]),
      registryMirror: z
        .strictObject({
          addr: z.url().default("https://index.docker.io"),
          enableTaskIDBasedBlobDigest: z.boolean().default(false),
          insecureSkipVerify: z.boolean().default(false),
          certs: z.array(z.string().min(1)).optional(),
        })
        .prefault({}),
      hijackHTTPS: z
        .strictObject({
          hosts: z
            .array(
              z.strictObject({
                regex: z.string().min(1).refine(isRegex, "must be a valid regular expression"),
                insecureSkipVerify: z.boolean().default(false),
                certs: z.array(z.string().min(1)).optional(),
              }),
            )
            .default([]),
        })
        .prefault({}),
      disableBackToSource: z.boolean().default(false),
      prefetch: z.boolean().default(false),
      readBufferSize: byteSize.default(512 * 1024),
      /** How long a client's successful upstream check for a cached task is remembered. */
      authorizationCacheTTL: duration.default(60_000),
    })
    .prefault({}),
  health: z.strictObject({ server: z.strictObject({ port: port.default(4003) }).prefault({}) }).prefault({}),
  metrics: z.strictObject({ server: z.strictObject({ port: port.default(4002) }).prefault({}) }).prefault({}),
  log: z.strictObject({ level: z.enum(["debug", "info", "warn", "error"]).default("info") }).prefault({}),
}).superRefine((config, ctx) => {
  const { diskHighThresholdPercent: high, diskLowThresholdPercent: low } = config.gc.policy;
  if ((config.proxy.server.caCert === undefined) !== (config.proxy.server.caKey === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["proxy", "server", config.proxy.server.caCert === undefined ? "caCert" : "caKey"],
      message: "proxy.server.caCert and proxy.server.caKey must be given together",
    });
  }
  if (low >= high) {
    ctx.addIssue({
      code: "custom",
      path: ["gc", "policy", "diskLowThresholdPercent"],
      message: `must be below gc.policy.diskHighThresholdPercent (${high})`,
    });
  }
});

/** Validated dfdaemon configuration. */
export type DfdaemonConfig = z.output<typeof dfdaemonConfigSchema>;

/** Resolved identity of this host. */
export interface HostIdentity {
  ip: string;
  hostname: string;
  seed: boolean;
}

/** The host's IP and hostname, from config or the machine. */
export function resolveIdentity(config: DfdaemonConfig): HostIdentity {
  return {
    ip: config.host.ip ?? preferredIp(),
    hostname: config.host.hostname ?? osHostname(),
    seed: config.seedPeer.enable,
  };
}
