/** A host that runs a dfdaemon (normal peer or seed peer), with the upload counters the evaluator reads. */
import type { Host as HostMessage } from "../../gen/common/v2/common_pb.ts";
import type { Peer } from "./peer.ts";

/** Host type of a normal peer, as `common.v2.Host.type`. */
export const HOST_TYPE_NORMAL = 0;
/** Host type of a super seed peer. */
export const HOST_TYPE_SUPER_SEED = 1;

/** Default concurrent upload limit (Dragonfly's `load_limit`) of a normal host. */
export const DEFAULT_NORMAL_LOAD_LIMIT = 200;
/** Default concurrent upload limit of a seed host. */
export const DEFAULT_SEED_LOAD_LIMIT = 2000;

/** Weight of the newest sample in the upload throughput moving average. */
const THROUGHPUT_EWMA_ALPHA = 0.3;

/** A host known from AnnounceHost. */
export class Host {
  /** The host as last announced. */
  info: HostMessage;
  /** The announce interval the client reported, ms; hosts without one are never host-GC'd. */
  announceIntervalMs: number | undefined;
  /** Maximum concurrent uploads (Dragonfly's load_limit). */
  concurrentUploadLimit: number;
  /** Sum of the peak bandwidth demand of current children, bits/s. */
  txBandwidth = 0;
  /** Sum of content lengths being uploaded to current children. */
  uploadContentLength = 0;
  /** Sum of the concurrent piece counts of current children. */
  concurrentUploadPieceCount = 0;
  /** Current children (edges out of this host's peers). */
  concurrentUploadCount = 0;
  /** Edges ever added out of this host's peers. */
  uploadCount = 0;
  /** Piece uploads reported failed by children. */
  uploadFailedCount = 0;
  /** Piece uploads reported finished by children. */
  uploadPieceCount = 0;
  /** Moving average of measured upload throughput per piece stream, bytes/s; undefined until measured. */
  uploadThroughput: number | undefined;
  /** Peers of this host, by ID. */
  readonly peers = new Map<string, Peer>();
  readonly createdAt: number;
  updatedAt: number;

  constructor(info: HostMessage, announceIntervalMs?: number, now = Date.now()) {
    this.info = info;
    this.announceIntervalMs = announceIntervalMs;
    this.concurrentUploadLimit = info.type === HOST_TYPE_NORMAL ? DEFAULT_NORMAL_LOAD_LIMIT : DEFAULT_SEED_LOAD_LIMIT;
    this.createdAt = now;
    this.updatedAt = now;
  }

  get id(): string {
    return this.info.id;
  }
  get type(): number {
    return this.info.type;
  }
  get ip(): string {
    return this.info.ip;
  }
  get port(): number {
    return this.info.port;
  }
  get hostname(): string {
    return this.info.hostname;
  }
  /** Whether this host is a seed peer. */
  get isSeed(): boolean {
    return this.info.type !== HOST_TYPE_NORMAL;
  }
  get disableShared(): boolean {
    return this.info.disableShared;
  }
  get idc(): string {
    return this.info.network?.idc ?? "";
  }
  get location(): string {
    return this.info.network?.location ?? "";
  }
  /** Reported maximum upload bandwidth, bits/s; 0 when unreported. */
  get maxTxBandwidth(): number {
    return Number(this.info.network?.maxTxBandwidth ?? 0n);
  }
  /** Free upload slots. */
  get freeUploadCount(): number {
    return this.concurrentUploadLimit - this.concurrentUploadCount;
  }

  /** Replaces the announced details and refreshes the timestamp. */
  update(info: HostMessage, announceIntervalMs: number | undefined, now = Date.now()): void {
    const typeChanged = info.type !== this.info.type;
    this.info = info;
    if (announceIntervalMs !== undefined) this.announceIntervalMs = announceIntervalMs;
    if (typeChanged) {
      this.concurrentUploadLimit = info.type === HOST_TYPE_NORMAL ? DEFAULT_NORMAL_LOAD_LIMIT : DEFAULT_SEED_LOAD_LIMIT;
    }
    this.updatedAt = now;
  }

  /** Records one piece served to a child: `bytes` in `costNs` nanoseconds. */
  recordUpload(bytes: number, costNs: number): void {
    this.uploadPieceCount++;
    if (bytes <= 0 || costNs <= 0) return;
    const sample = bytes / (costNs / 1e9);
    this.uploadThroughput =
      this.uploadThroughput === undefined ? sample : THROUGHPUT_EWMA_ALPHA * sample + (1 - THROUGHPUT_EWMA_ALPHA) * this.uploadThroughput;
  }
}
