/**
 * The scheduler's traffic report to the manager: bytes by traffic type, live counts and piece transfers
 * (which host got how many bytes of which task from which host), summed per interval and sent with
 * ManagerExt.ReportStats with the seed peers that announced themselves here, so that the manager lists them
 * (Dragonfly's seed peers no longer register with the manager themselves). A failed report is kept and merged
 * into the next one.
 */
import { create } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { TrafficType, type Piece } from "../gen/common/v2/common_pb.ts";
import {
  ManagerExt,
  ReportStatsRequestSchema,
  SeedPeerHostSchema,
  TransferHostSchema,
  type ReportStatsRequest,
  type TransferHost,
} from "../gen/libellula/manager/v1/manager_ext_pb.ts";
import { errorMessage } from "../common/errors.ts";
import type { Service } from "../common/lifecycle.ts";
import type { Logger } from "../common/log.ts";
import { createManagerTransport, type ManagerTransport } from "../common/manager-transport.ts";
import { VERSION } from "../common/version.ts";
import type { Host } from "./resource/host.ts";
import type { Peer } from "./resource/peer.ts";
import type { Resource } from "./resource/resource.ts";

/** Most transfers one report carries; the rest are counted as dropped. */
export const MAX_TRANSFERS_PER_REPORT = 2000;

/** How long the last report at shutdown may take, so an unreachable manager does not hold the scheduler up. */
const FINAL_REPORT_TIMEOUT_MS = 2000;

/** Dragonfly's host type names by number. */
const HOST_TYPES = ["normal", "super", "strong", "weak"];

/** Pieces one host got for one task from one parent host (or the origin) in the current interval. */
interface Transfer {
  taskId: string;
  child: TransferHost;
  parent: TransferHost | undefined;
  bytes: number;
  pieces: number;
}

function hostOf(host: Host): TransferHost {
  return create(TransferHostSchema, { id: host.id, hostname: host.hostname, ip: host.ip, type: HOST_TYPES[host.type] ?? "normal" });
}

/** Sums of one interval. */
export interface StatsInterval {
  startMs: number;
  backToSourceBytes: number;
  remotePeerBytes: number;
  localPeerBytes: number;
  transfers: Transfer[];
  droppedTransfers: number;
}

/** Counts piece reports between two reports. */
export class TrafficStats {
  private startMs = Date.now();
  private backToSource = 0;
  private remotePeer = 0;
  private localPeer = 0;
  private dropped = 0;
  private readonly transfers = new Map<string, Transfer>();

  constructor(private readonly maxTransfers = MAX_TRANSFERS_PER_REPORT) {}

  /** A finished piece as the peer reported it; `parent` is the peer that served it, when known. */
  recordPiece(peer: Peer, piece: Piece, fromSource: boolean, parent: Peer | undefined): void {
    const length = Number(piece.length);
    if (!(length > 0)) return;
    if (fromSource) {
      this.backToSource += length;
      this.add(peer.task.id, peer.host.id, undefined, length, 1, () => ({ child: hostOf(peer.host), parent: undefined }));
    } else if (piece.trafficType === TrafficType.LOCAL_PEER) {
      this.localPeer += length;
    } else {
      this.remotePeer += length;
      if (parent) {
        this.add(peer.task.id, peer.host.id, parent.host.id, length, 1, () => ({ child: hostOf(peer.host), parent: hostOf(parent.host) }));
      }
    }
  }

  /**
   * Adds bytes to a transfer edge. Called for every piece: the edge's host messages are only built (`describe`)
   * when the edge is new.
   */
  private add(
    taskId: string,
    childId: string,
    parentId: string | undefined,
    bytes: number,
    pieces: number,
    describe: () => Pick<Transfer, "child" | "parent">,
  ): void {
    const key = `${taskId}\u0000${childId}\u0000${parentId ?? ""}`;
    const known = this.transfers.get(key);
    if (known) {
      known.bytes += bytes;
      known.pieces += pieces;
    } else if (this.transfers.size < this.maxTransfers) {
      this.transfers.set(key, { taskId, ...describe(), bytes, pieces });
    } else {
      this.dropped++;
    }
  }

  /** Whether anything was counted since the last take(). */
  get empty(): boolean {
    return this.backToSource === 0 && this.remotePeer === 0 && this.localPeer === 0 && this.transfers.size === 0 && this.dropped === 0;
  }

  /** The interval's sums; counting starts afresh. */
  take(now = Date.now()): StatsInterval {
    const out: StatsInterval = {
      startMs: this.startMs,
      backToSourceBytes: this.backToSource,
      remotePeerBytes: this.remotePeer,
      localPeerBytes: this.localPeer,
      transfers: [...this.transfers.values()],
      droppedTransfers: this.dropped,
    };
    this.startMs = now;
    this.backToSource = this.remotePeer = this.localPeer = this.dropped = 0;
    this.transfers.clear();
    return out;
  }

  /** Puts back an interval whose report failed, so its bytes are sent with the next one. */
  restore(interval: StatsInterval): void {
    this.startMs = Math.min(this.startMs, interval.startMs);
    this.backToSource += interval.backToSourceBytes;
    this.remotePeer += interval.remotePeerBytes;
    this.localPeer += interval.localPeerBytes;
    this.dropped += interval.droppedTransfers;
    for (const t of interval.transfers) this.add(t.taskId, t.child.id, t.parent?.id, t.bytes, t.pieces, () => ({ child: t.child, parent: t.parent }));
  }
}

/** Options of the reporter. */
export interface StatsReporterOptions {
  addr: string;
  hostname: string;
  ip: string;
  clusterId: number;
  intervalMs: number;
  stats: TrafficStats;
  resource: Resource;
  log: Logger;
  /** For tests: a client to use instead of dialing `addr`. */
  client?: Client<typeof ManagerExt>;
}

/** Peers still downloading or holding content: every peer the scheduler knows. */
function activeCounts(resource: Resource): { tasks: number; peers: number; hosts: number } {
  return { tasks: resource.tasks.size, peers: resource.peers.size, hosts: resource.hosts.size };
}

/** Seed hosts that announced themselves within two of their intervals (as the scheduler's seed targets). */
function freshSeeds(resource: Resource, now: number) {
  return resource.hosts
    .seeds()
    .filter((h) => h.announceIntervalMs === undefined || now - h.updatedAt <= 2 * h.announceIntervalMs)
    .map((h) =>
      create(SeedPeerHostSchema, {
        hostname: h.hostname,
        ip: h.ip,
        type: HOST_TYPES[h.type] ?? "super",
        idc: h.idc,
        location: h.location,
        port: h.port,
        downloadPort: h.info.downloadPort,
        version: h.info.build?.gitVersion ?? "",
        commit: h.info.build?.gitCommit ?? "",
      }),
    );
}

/** Sends the interval's stats to the manager every `intervalMs`. */
export class StatsReporter implements Service {
  readonly name = "stats-reporter";
  private readonly transport: ManagerTransport | undefined;
  private readonly client: Client<typeof ManagerExt>;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private warned = false;

  constructor(private readonly options: StatsReporterOptions) {
    if (options.client) {
      this.client = options.client;
    } else {
      this.transport = createManagerTransport(options.addr, { timeoutMs: 10_000 });
      this.client = createClient(ManagerExt, this.transport);
    }
  }

  /** The request for one interval. */
  request(interval: StatsInterval, now: number): ReportStatsRequest {
    const o = this.options;
    const counts = activeCounts(o.resource);
    return create(ReportStatsRequestSchema, {
      hostname: o.hostname,
      ip: o.ip,
      schedulerClusterId: BigInt(o.clusterId),
      startMs: BigInt(interval.startMs),
      endMs: BigInt(now),
      backToSourceBytes: BigInt(interval.backToSourceBytes),
      remotePeerBytes: BigInt(interval.remotePeerBytes),
      localPeerBytes: BigInt(interval.localPeerBytes),
      activeTasks: counts.tasks,
      activePeers: counts.peers,
      hosts: counts.hosts,
      transfers: interval.transfers.map((t) => ({ taskId: t.taskId, child: t.child, parent: t.parent, bytes: BigInt(t.bytes), pieces: t.pieces })),
      droppedTransfers: interval.droppedTransfers,
      version: VERSION,
      seedPeers: freshSeeds(o.resource, now),
      intervalMs: o.intervalMs,
    });
  }

  /** Sends one report now; on failure the interval goes back to be sent next time. */
  async report(timeoutMs?: number): Promise<boolean> {
    const o = this.options;
    const now = Date.now();
    const interval = o.stats.take(now);
    try {
      await this.client.reportStats(this.request(interval, now), { timeoutMs });
      if (this.warned) o.log.info("Stats reports reach the manager again", { manager: o.addr });
      this.warned = false;
      return true;
    } catch (error) {
      o.stats.restore(interval);
      if (!this.warned) o.log.warn("Cannot report stats to the manager", { manager: o.addr, error: errorMessage(error) });
      this.warned = true;
      return false;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.report().then(() => this.schedule());
    }, this.options.intervalMs);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.schedule();
  }

  /** Stops the loop after a last report, so the final interval is not lost. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    if (!this.options.stats.empty) await this.report(FINAL_REPORT_TIMEOUT_MS);
    this.transport?.close();
  }
}
