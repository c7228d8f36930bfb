/**
 * Scheduler discovery through the manager: ListSchedulers every refresh interval, a gRPC health check of
 * each scheduler, and the serving schedulers of the first healthy cluster handed to the scheduler client.
 */
import { create } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { HealthService, ServingStatus } from "../common/grpc-health.ts";
import { errorMessage } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { createManagerTransport } from "../common/manager-transport.ts";
import { createGrpcClient } from "../common/rpc.ts";
import { VERSION } from "../common/version.ts";
import { ListSchedulersRequestSchema, Manager, SourceType } from "../gen/manager/v2/manager_pb.ts";

/** Options of the dynamic config. */
export interface DynconfigOptions {
  managerAddress: string;
  /** A personal access token with the "rpc" scope, when the manager requires one. */
  token?: string;
  refreshIntervalMs: number;
  host: { hostname: string; ip: string; idc?: string; location?: string; seed: boolean; schedulerClusterId?: number };
  /** Static schedulers used when the manager cannot be reached or returns none. */
  fallback: readonly string[];
  onSchedulers(addresses: string[]): void;
  log: Logger;
}

/** Keeps the scheduler list fresh from the manager. */
export class Dynconfig {
  private transport: (Transport & { close(): void }) | undefined;
  private client: Client<typeof Manager> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private current: string[] = [];

  constructor(private readonly options: DynconfigOptions) {}

  /** The schedulers in use now. */
  get schedulers(): string[] {
    return this.current;
  }

  /** Fetches once (without failing start-up when the manager is down), then refreshes on an interval. */
  async start(): Promise<void> {
    this.transport = createManagerTransport(this.options.managerAddress, { timeoutMs: 5000 });
    this.client = createClient(Manager, this.transport);
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.transport?.close();
  }

  /** Asks the manager for schedulers and keeps the serving ones of the first healthy cluster. */
  async refresh(): Promise<string[]> {
    const { host, log } = this.options;
    let chosen: string[] = [];
    try {
      const response = await this.client!.listSchedulers(
        create(ListSchedulersRequestSchema, {
          sourceType: host.seed ? SourceType.SEED_PEER_SOURCE : SourceType.PEER_SOURCE,
          hostname: host.hostname,
          ip: host.ip,
          idc: host.idc,
          location: host.location,
          version: VERSION,
          commit: "",
          schedulerClusterId: BigInt(host.schedulerClusterId ?? 0),
        }),
        { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : undefined },
      );
      const clusters = new Map<bigint, string[]>();
      for (const scheduler of response.schedulers) {
        const list = clusters.get(scheduler.schedulerClusterId) ?? [];
        list.push(`${scheduler.ip}:${scheduler.port}`);
        clusters.set(scheduler.schedulerClusterId, list);
      }
      for (const addresses of clusters.values()) {
        const healthy = (await Promise.all(addresses.map(async (a) => ((await this.healthy(a)) ? a : undefined)))).filter(
          (a): a is string => a !== undefined,
        );
        if (healthy.length > 0) {
          chosen = healthy;
          break;
        }
      }
      if (chosen.length === 0) log.warn("The manager knows no healthy scheduler for this host", { schedulers: response.schedulers.length });
    } catch (error) {
      log.warn("Cannot list schedulers from the manager", { manager: this.options.managerAddress, error: errorMessage(error) });
      if (this.current.length > 0) return this.current;
    }
    if (chosen.length === 0) chosen = [...this.options.fallback];
    if (chosen.join(",") !== this.current.join(",")) {
      this.current = chosen;
      log.info("Schedulers updated", { schedulers: chosen });
      this.options.onSchedulers(chosen);
    }
    return chosen;
  }

  private async healthy(address: string): Promise<boolean> {
    const transport = createGrpcClient(address, { timeoutMs: 2000 });
    try {
      const client = createClient(HealthService as never, transport) as unknown as {
        check(request: { service: string }): Promise<{ status: number }>;
      };
      const response = await client.check({ service: "" });
      return response.status === ServingStatus.SERVING;
    } catch {
      return false;
    } finally {
      transport.close();
    }
  }
}
