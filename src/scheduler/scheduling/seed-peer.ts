/** Seed peers: choosing one per task by consistent hashing and triggering its download from the origin. */
import { clone } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { DownloadSchema, type Download } from "../../gen/common/v2/common_pb.ts";
import { DfdaemonUpload } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { HashRing } from "../../common/hashring.ts";
import { createGrpcClient } from "../../common/rpc.ts";
import { errorMessage } from "../../common/errors.ts";
import type { Logger } from "../../common/log.ts";
import type { HostManager } from "../resource/host-manager.ts";
import { PeerState } from "../resource/peer.ts";
import type { Task } from "../resource/task.ts";

/** Where a seed peer's upload gRPC server listens. */
export interface SeedTarget {
  /** The host ID (announced seeds) or `ip:port` (seeds known only from the manager). */
  readonly id: string;
  readonly ip: string;
  readonly port: number;
}

/** Calls a seed peer's DfdaemonUpload.DownloadTask and drains the stream; rejects on any error. */
export interface SeedPeerClient {
  downloadTask(target: SeedTarget, download: Download, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** A SeedPeerClient over gRPC, one HTTP/2 session per seed address. */
export function createSeedPeerClient(): SeedPeerClient {
  const transports = new Map<string, ReturnType<typeof createGrpcClient>>();
  return {
    async downloadTask(target, download, signal) {
      const address = target.ip.includes(":") ? `[${target.ip}]:${target.port}` : `${target.ip}:${target.port}`;
      let transport = transports.get(address);
      if (!transport) {
        transport = createGrpcClient(address);
        transports.set(address, transport);
      }
      const client = createClient(DfdaemonUpload, transport);
      for await (const _ of client.downloadTask({ download }, { signal })) {
        // Draining is the point: the stream ends when the seed holds the whole task.
      }
    },
    close() {
      for (const transport of transports.values()) transport.close();
      transports.clear();
    },
  };
}

/** Options of SeedPeers. */
export interface SeedPeersOptions {
  hosts: HostManager;
  client: SeedPeerClient;
  log: Logger;
  /** A seed failure on a task blocks re-triggering it this long (Dragonfly's SeedPeerFailedTimeout). */
  failedTimeoutMs: number;
  /** New peers wait this long for a triggered seed before going back to source. */
  registerTimeoutMs: number;
  /** Downloading normal peers per engaged seed before another seed joins (0 = never). */
  hotTaskPeerThreshold: number;
  /** Called after each trigger with its outcome. */
  onTrigger?: (result: "started" | "succeeded" | "failed") => void;
}

/** How long a seed that refused a connection is left out of the ring. */
const UNREACHABLE_SEED_BACKOFF_MS = 30_000;

/** The seed peers known to this scheduler and the triggers of their downloads. */
export class SeedPeers {
  private external: SeedTarget[] = [];
  private ringCache: { key: string; ring: HashRing } | undefined;
  private readonly unreachable = new Map<string, number>();
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly options: SeedPeersOptions) {}

  /** Replaces the seeds known from the manager (used when they have not announced themselves). */
  setExternalSeeds(seeds: SeedTarget[]): void {
    this.external = seeds;
  }

  /** Healthy seeds: announced seed hosts that are fresh and shared, plus manager-listed ones not announced. */
  targets(now = Date.now()): SeedTarget[] {
    const out: SeedTarget[] = [];
    const seen = new Set<string>();
    for (const host of this.options.hosts.seeds()) {
      seen.add(`${host.ip}:${host.port}`);
      if (host.disableShared) continue;
      if (host.announceIntervalMs !== undefined && now - host.updatedAt > 2 * host.announceIntervalMs) continue;
      out.push({ id: host.id, ip: host.ip, port: host.port });
    }
    for (const seed of this.external) if (!seen.has(`${seed.ip}:${seed.port}`)) out.push(seed);
    return out.filter((t) => (this.unreachable.get(t.id) ?? 0) <= now);
  }

  /** Whether any seed can be triggered. */
  available(now = Date.now()): boolean {
    return this.targets(now).length > 0;
  }

  /** Up to `n` seeds for a task in ring order: the owner first. */
  pick(taskId: string, n: number, now = Date.now()): SeedTarget[] {
    const targets = this.targets(now);
    const key = targets.map((t) => t.id).sort().join("\n");
    if (this.ringCache?.key !== key) this.ringCache = { key, ring: new HashRing(targets.map((t) => t.id)) };
    const byId = new Map(targets.map((t) => [t.id, t]));
    return this.ringCache.ring.getN(taskId, n).map((id) => byId.get(id)!);
  }

  /** Whether a seed failed this task within the failed timeout. */
  recentlyFailed(task: Task, now = Date.now()): boolean {
    return task.seed.failedAt !== undefined && now - task.seed.failedAt < this.options.failedTimeoutMs;
  }

  /** Whether a seed peer of this task holds or is fetching the content. */
  hasRunningSeed(task: Task): boolean {
    return task.peers().some((p) => p.host.isSeed && p.fsm.is(PeerState.Running, PeerState.BackToSource, PeerState.Succeeded));
  }

  /** Whether a triggered seed is expected soon: asked recently, not failed since, and not yet serving. */
  pending(task: Task, now = Date.now()): boolean {
    if (this.hasRunningSeed(task)) return false;
    for (const at of task.seed.triggered.values()) {
      if (now - at >= this.options.registerTimeoutMs) continue;
      if (task.seed.failedAt !== undefined && task.seed.failedAt >= at) continue;
      return true;
    }
    return false;
  }

  /**
   * Asks the task's seed (by consistent hashing) to download it from the origin, unless one was asked
   * already and has not failed. Returns whether a seed is (now) on it.
   */
  triggerBackToSource(task: Task, download: Download, now = Date.now()): boolean {
    if (this.pending(task, now) || this.hasRunningSeed(task)) return true;
    const target = this.pick(task.id, 1, now).find((t) => !this.activeTrigger(task, t.id, now));
    if (!target) return false;
    this.trigger(task, target, download, true, now);
    return true;
  }

  /**
   * For a hot task, brings one more seed in as a peer-to-peer downloader (not from the origin) when the
   * downloading normal peers exceed the threshold per engaged seed.
   */
  spread(task: Task, download: Download, now = Date.now()): SeedTarget | undefined {
    const threshold = this.options.hotTaskPeerThreshold;
    if (threshold <= 0 || !this.hasRunningSeed(task)) return undefined;
    const engaged = new Set(task.peers().filter((p) => p.host.isSeed).map((p) => p.host.id));
    for (const id of task.seed.triggered.keys()) engaged.add(id);
    const downloading = task
      .peers()
      .filter((p) => !p.host.isSeed && p.fsm.is(PeerState.ReceivedNormal, PeerState.Running, PeerState.BackToSource)).length;
    if (downloading <= threshold * Math.max(1, engaged.size)) return undefined;
    const next = this.pick(task.id, engaged.size + 1, now).find((t) => !engaged.has(t.id));
    if (!next) return undefined;
    this.trigger(task, next, download, false, now);
    return next;
  }

  private activeTrigger(task: Task, id: string, now: number): boolean {
    const at = task.seed.triggered.get(id);
    return at !== undefined && now - at < this.options.registerTimeoutMs && !(task.seed.failedAt !== undefined && task.seed.failedAt >= at);
  }

  private trigger(task: Task, target: SeedTarget, peerDownload: Download, backToSource: boolean, now: number): void {
    const download = clone(DownloadSchema, peerDownload);
    download.needBackToSource = backToSource;
    download.outputPath = undefined;
    download.metadataOnly = false;
    download.needPieceContent = false;
    download.range = undefined;
    task.seed.triggered.set(target.id, now);
    const controller = new AbortController();
    this.inflight.add(controller);
    const log = this.options.log.child({ taskId: task.id, seed: `${target.ip}:${target.port}` });
    log.info("Triggering seed peer", { backToSource });
    this.options.onTrigger?.("started");
    this.options.client
      .downloadTask(target, download, controller.signal)
      .then(
        () => {
          log.info("Seed peer finished the task");
          this.options.onTrigger?.("succeeded");
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          const code = error instanceof ConnectError ? error.code : Code.Unknown;
          if (code === Code.Unavailable) {
            // The seed is down, not the origin: the next seed on the ring takes the task over.
            this.unreachable.set(target.id, Date.now() + UNREACHABLE_SEED_BACKOFF_MS);
            task.seed.triggered.delete(target.id);
            const next = this.pick(task.id, this.targets().length).find((t) => !task.seed.triggered.has(t.id));
            log.warn("Seed peer unreachable", { error: errorMessage(error), next: next ? `${next.ip}:${next.port}` : undefined });
            this.options.onTrigger?.("failed");
            if (next) {
              this.trigger(task, next, peerDownload, backToSource, Date.now());
              return;
            }
          }
          task.seed.failedAt = Date.now();
          log.warn("Seed peer cannot download the task", { error: errorMessage(error) });
          this.options.onTrigger?.("failed");
          task.notify();
        },
      )
      .finally(() => this.inflight.delete(controller));
  }

  /** Aborts in-flight triggers and closes connections. */
  stop(): void {
    for (const controller of this.inflight) controller.abort();
    this.inflight.clear();
    this.options.client.close();
  }
}
