/**
 * The scheduler's side of manager.v2: registration, keep-alive and the dynamic cluster config. Over gRPC
 * (`host:port`) it keeps the KeepAlive client stream open; over an http(s) URL, which may be an edge-hosted
 * manager that holds no streams, it sends the unary ManagerExt.Heartbeat every keep-alive interval instead.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import {
  KeepAliveRequestSchema,
  Manager,
  SourceType,
  type Application,
  type KeepAliveRequest,
  type Scheduler as SchedulerMessage,
} from "../gen/manager/v2/manager_pb.ts";
import { ManagerExt } from "../gen/libellula/manager/v1/manager_ext_pb.ts";
import { errorMessage } from "../common/errors.ts";
import type { Service } from "../common/lifecycle.ts";
import type { Logger } from "../common/log.ts";
import { createManagerTransport, type ManagerTransport } from "../common/manager-transport.ts";
import { COMMIT, VERSION } from "../common/version.ts";
import type { SeedTarget } from "./scheduling/seed-peer.ts";

/** Longest wait for the manager at start-up. */
const START_WAIT_MS = 3000;

/** Features this scheduler offers. */
export const SCHEDULER_FEATURES = ["schedule", "preheat"] as const;

/** What the manager's cluster config says, where it says anything. */
export interface Dynconfig {
  candidateParentLimit?: number;
  filterParentLimit?: number;
  normalLoadLimit?: number;
  seedLoadLimit?: number;
  seedPeers: SeedTarget[];
  applications: Application[];
}

/** Options of the manager client. */
export interface ManagerClientOptions {
  addr: string;
  hostname: string;
  ip: string;
  port: number;
  idc: string;
  location: string;
  clusterId: number;
  keepAliveIntervalMs: number;
  refreshIntervalMs: number;
  log: Logger;
  onDynconfig: (config: Dynconfig) => void;
}

function decodeJson(bytes: Uint8Array | undefined): Record<string, unknown> {
  if (!bytes || bytes.length === 0) return {};
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Reads the limits and seed peers out of a GetScheduler answer. */
export function dynconfigFromScheduler(scheduler: SchedulerMessage, applications: Application[]): Dynconfig {
  const cluster = scheduler.schedulerCluster;
  const config = decodeJson(cluster?.config);
  const clientConfig = decodeJson(cluster?.clientConfig);
  const seedPeers = scheduler.seedPeers.filter((s) => s.state === "" || s.state === "active");
  const seedConfig = decodeJson(seedPeers[0]?.seedPeerCluster?.config);
  return {
    candidateParentLimit: positiveInt(config.candidate_parent_limit),
    filterParentLimit: positiveInt(config.filter_parent_limit),
    normalLoadLimit: positiveInt(clientConfig.load_limit),
    seedLoadLimit: positiveInt(seedConfig.load_limit),
    seedPeers: seedPeers.filter((s) => s.ip && s.port > 0).map((s) => ({ id: `${s.ip}:${s.port}`, ip: s.ip, port: s.port })),
    applications,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Registers with the manager, keeps the registration alive and refreshes the cluster config. */
export class ManagerClient implements Service {
  readonly name = "manager-client";
  private readonly transport: ManagerTransport;
  private readonly client: Client<typeof Manager>;
  private readonly ext: Client<typeof ManagerExt>;
  private readonly controller = new AbortController();
  private registered = false;
  private heartbeatFailing = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: ManagerClientOptions) {
    this.transport = createManagerTransport(options.addr, { timeoutMs: 10_000 });
    this.client = createClient(Manager, this.transport);
    this.ext = createClient(ManagerExt, this.transport);
  }

  /** Whether UpdateScheduler has succeeded. */
  get isRegistered(): boolean {
    return this.registered;
  }

  /** Registers (UpdateScheduler) once; false on failure. */
  async register(): Promise<boolean> {
    const o = this.options;
    try {
      await this.client.updateScheduler(
        {
          sourceType: SourceType.SCHEDULER_SOURCE,
          hostname: o.hostname,
          schedulerClusterId: BigInt(o.clusterId),
          idc: o.idc,
          location: o.location,
          ip: o.ip,
          port: o.port,
          features: [...SCHEDULER_FEATURES],
          config: new TextEncoder().encode(JSON.stringify({ manager_keep_alive_interval: `${o.keepAliveIntervalMs / 1000}s` })),
        },
        { signal: this.controller.signal },
      );
      this.registered = true;
      o.log.info("Registered with the manager", { manager: o.addr });
      return true;
    } catch (error) {
      o.log.warn("Cannot register with the manager", { manager: o.addr, error: errorMessage(error) });
      return false;
    }
  }

  /** Fetches GetScheduler and ListApplications and hands the result to onDynconfig. */
  async refresh(): Promise<Dynconfig | undefined> {
    const o = this.options;
    const signal = this.controller.signal;
    try {
      const scheduler = await this.client.getScheduler(
        { sourceType: SourceType.SCHEDULER_SOURCE, hostname: o.hostname, schedulerClusterId: BigInt(o.clusterId), ip: o.ip },
        { signal },
      );
      let applications: Application[] = [];
      try {
        applications = (await this.client.listApplications({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: o.hostname, ip: o.ip }, { signal }))
          .applications;
      } catch (error) {
        const code = error instanceof ConnectError ? error.code : undefined;
        if (code !== Code.NotFound && code !== Code.Unimplemented) throw error;
      }
      const dynconfig = dynconfigFromScheduler(scheduler, applications);
      o.onDynconfig(dynconfig);
      return dynconfig;
    } catch (error) {
      if (!signal.aborted) o.log.warn("Cannot refresh the cluster config", { manager: o.addr, error: errorMessage(error) });
      return undefined;
    }
  }

  private async *keepAliveMessages(signal: AbortSignal): AsyncIterable<KeepAliveRequest> {
    const o = this.options;
    const message = create(KeepAliveRequestSchema, {
      sourceType: SourceType.SCHEDULER_SOURCE,
      hostname: o.hostname,
      clusterId: BigInt(o.clusterId),
      ip: o.ip,
    });
    while (!signal.aborted) {
      yield message;
      await sleep(o.keepAliveIntervalMs, signal);
    }
  }

  private async keepAliveLoop(): Promise<void> {
    const signal = this.controller.signal;
    const o = this.options;
    while (!signal.aborted) {
      if (this.registered || (await this.register())) {
        try {
          // A client stream without a deadline: it lives as long as the connection does.
          await this.client.keepAlive(this.keepAliveMessages(signal), { signal, timeoutMs: 0 });
        } catch (error) {
          if (!signal.aborted) o.log.warn("Manager keep-alive failed; re-dialing", { manager: o.addr, error: errorMessage(error) });
        }
      }
      await sleep(o.keepAliveIntervalMs, signal);
    }
  }

  /** One unary heartbeat; a manager that no longer knows this scheduler gets it registered again. */
  private async heartbeat(): Promise<void> {
    const o = this.options;
    const signal = this.controller.signal;
    try {
      await this.ext.heartbeat(
        {
          sourceType: SourceType.SCHEDULER_SOURCE,
          hostname: o.hostname,
          clusterId: BigInt(o.clusterId),
          ip: o.ip,
          intervalMs: o.keepAliveIntervalMs,
          version: VERSION,
          commit: COMMIT,
        },
        { signal },
      );
      if (this.heartbeatFailing) o.log.info("Manager heartbeats answered again", { manager: o.addr });
      this.heartbeatFailing = false;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ConnectError && error.code === Code.NotFound) this.registered = false;
      if (!this.heartbeatFailing) o.log.warn("Manager heartbeat failed", { manager: o.addr, error: errorMessage(error) });
      this.heartbeatFailing = true;
    }
  }

  private async heartbeatLoop(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      if (this.registered || (await this.register())) await this.heartbeat();
      await sleep(this.options.keepAliveIntervalMs, signal);
    }
  }

  private async refreshLoop(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      await sleep(this.options.refreshIntervalMs, signal);
      if (!signal.aborted) await this.refresh();
    }
  }

  /**
   * Registers and reads the cluster config, waiting at most START_WAIT_MS so that an unreachable manager
   * never holds the scheduler back; keep-alive and refresh loops follow in the background.
   */
  async start(): Promise<void> {
    const initial = (async () => {
      await this.register();
      await this.refresh();
    })();
    const keepAlive = () => (this.transport.unaryOnly ? this.heartbeatLoop() : this.keepAliveLoop());
    this.loops = [initial.then(() => Promise.all([keepAlive(), this.refreshLoop()])).then(() => {})];
    await Promise.race([initial, sleep(START_WAIT_MS, this.controller.signal)]);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled(this.loops);
    this.transport.close();
  }
}
