/**
 * Preheat on the scheduler: each URL's task is downloaded by one seed (consistent hash of the task ID), by
 * every seed, or by chosen normal peers, with bounded concurrency over URLs and over hosts.
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { DownloadSchema, TaskType, type Download } from "../../gen/common/v2/common_pb.ts";
import { errorMessage, InvalidArgument } from "../../common/errors.ts";
import { DEFAULT_FILTERED_QUERY_PARAMS, taskId } from "../../common/ids.ts";
import type { Logger } from "../../common/log.ts";
import type { HostManager } from "../resource/host-manager.ts";
import type { SeedTarget } from "../scheduling/seed-peer.ts";
import type { DfdaemonClient } from "./dfdaemon-client.ts";
import { parseManifestUrl, resolveImage } from "./image.ts";
import { mapLimit } from "./limit.ts";

/** URLs preheated in parallel when the args give no limit (Dragonfly's default). */
export const DEFAULT_CONCURRENT_TASK_COUNT = 8;
/** Hosts per URL preheated in parallel when the args give no limit (Dragonfly's default). */
export const DEFAULT_CONCURRENT_PEER_COUNT = 500;
/** Preheat timeout when the args give none (Dragonfly's default). */
export const DEFAULT_PREHEAT_TIMEOUT_MS = 60 * 60 * 1000;

/** How long a preheat waits for a first seed (or peer) to announce itself. */
export const DEFAULT_HOST_WAIT_MS = 15_000;
const HOST_POLL_MS = 100;

/** Preheat args as the manager stores them (Dragonfly's JSON keys; timeout in nanoseconds). */
export interface PreheatArgs {
  type: "image" | "file";
  url?: string;
  urls?: string[];
  piece_length?: number | null;
  tag?: string;
  application?: string;
  filtered_query_params?: string;
  headers?: Record<string, string> | null;
  username?: string;
  password?: string;
  platform?: string;
  scope?: string;
  ips?: string[] | null;
  count?: number | null;
  percentage?: number | null;
  concurrent_task_count?: number;
  concurrent_peer_count?: number;
  timeout?: number;
}

/** One host's outcome for one URL, in Dragonfly's shape. */
export interface PreheatTaskResult {
  url: string;
  hostname: string;
  ip: string;
  description?: string;
}

/** A preheat job's result, in Dragonfly's shape. */
export interface PreheatResult {
  success_tasks: PreheatTaskResult[];
  failure_tasks: PreheatTaskResult[];
  scheduler_cluster_id: number;
}

/** A host a preheat can target. */
export interface PreheatTarget {
  id: string;
  hostname: string;
  ip: string;
  port: number;
}

/** What preheat needs from the scheduler. */
export interface PreheatDeps {
  hosts: HostManager;
  seeds: { targets(): SeedTarget[]; pick(taskId: string, n: number): SeedTarget[] };
  dfdaemon: DfdaemonClient;
  /** The scheduler's advertised IP, sent as the download's remote IP. */
  ip: string;
  clusterId: number;
  log: Logger;
  fetch?: typeof fetch;
  /** How long to wait for a first target host to announce itself. */
  hostWaitMs?: number;
}

/** Thrown when nothing was preheated; carries the per-host outcome. */
export class PreheatFailed extends Error {
  constructor(
    message: string,
    readonly result: PreheatResult,
  ) {
    super(message);
  }
}

/** Splits Dragonfly's `&`-joined filtered query params; empty means the default list. */
export function filteredParams(value: string | undefined): string[] {
  const list = (value ?? "").split("&").map((s) => s.trim()).filter(Boolean);
  return list.length > 0 ? list : [...DEFAULT_FILTERED_QUERY_PARAMS];
}

/** Nanoseconds (Dragonfly's JSON durations) to milliseconds, with a default for 0 or unset. */
export function timeoutMs(ns: number | undefined, fallbackMs = DEFAULT_PREHEAT_TIMEOUT_MS): number {
  return ns && ns > 0 ? Math.max(1, Math.round(ns / 1e6)) : fallbackMs;
}

/** Hosts chosen for the all_* scopes: `ips` wins over `count`, `count` over `percentage`. */
export function selectHosts<T extends { id: string; ip: string }>(hosts: T[], args: Pick<PreheatArgs, "ips" | "count" | "percentage">): T[] {
  const sorted = [...hosts].sort((a, b) => a.id.localeCompare(b.id));
  if (args.ips && args.ips.length > 0) {
    const wanted = new Set(args.ips);
    return sorted.filter((h) => wanted.has(h.ip));
  }
  if (args.count && args.count > 0) return sorted.slice(0, args.count);
  if (args.percentage && args.percentage > 0) return sorted.slice(0, Math.max(1, Math.floor((sorted.length * args.percentage) / 100)));
  return sorted;
}

/** Runs a preheat; resolves with the result when at least one download succeeded, else throws PreheatFailed. */
export async function runPreheat(deps: PreheatDeps, args: PreheatArgs, signal: AbortSignal): Promise<PreheatResult> {
  const result: PreheatResult = { success_tasks: [], failure_tasks: [], scheduler_cluster_id: deps.clusterId };
  const scope = args.scope || "single_seed_peer";
  if (!["single_seed_peer", "all_seed_peers", "all_peers"].includes(scope)) throw new InvalidArgument(`Invalid scope "${scope}"`);
  const filters = filteredParams(args.filtered_query_params);
  const pieceLength = args.piece_length && args.piece_length > 0 ? args.piece_length : undefined;
  const timeout = timeoutMs(args.timeout);

  let urls: string[];
  let headersFor: () => Promise<Record<string, string>>;
  if (args.type === "image") {
    if (!args.url) throw new InvalidArgument('Invalid args: "url" is required for an image preheat');
    parseManifestUrl(args.url);
    try {
      const image = await resolveImage({
        url: args.url,
        headers: args.headers ?? undefined,
        username: args.username,
        password: args.password,
        platform: args.platform,
        fetch: deps.fetch,
        signal,
      });
      urls = image.urls;
      headersFor = () => image.headers();
    } catch (error) {
      result.failure_tasks.push({ url: args.url, hostname: "", ip: "", description: errorMessage(error) });
      throw new PreheatFailed(errorMessage(error), result);
    }
  } else {
    urls = [...new Set([...(args.urls ?? []), ...(args.url ? [args.url] : [])])];
    const headers = { ...(args.headers ?? {}) };
    headersFor = async () => headers;
  }
  if (urls.length === 0) throw new InvalidArgument('Invalid args: "urls" is empty');

  // A scheduler that just started may not have heard from its hosts yet: give them a moment to announce.
  const ready = scope === "all_peers" ? () => deps.hosts.normals().length > 0 : () => deps.seeds.targets().length > 0;
  const deadline = Date.now() + Math.min(timeout, deps.hostWaitMs ?? DEFAULT_HOST_WAIT_MS);
  while (!ready() && Date.now() < deadline && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, HOST_POLL_MS));

  const targetOf = (seed: SeedTarget): PreheatTarget => {
    const host = deps.hosts.load(seed.id);
    return { id: seed.id, hostname: host?.hostname ?? seed.ip, ip: seed.ip, port: seed.port };
  };
  let fanOut: PreheatTarget[] = [];
  if (scope === "all_seed_peers") fanOut = selectHosts(deps.seeds.targets().map(targetOf), args);
  if (scope === "all_peers") fanOut = selectHosts(deps.hosts.normals().map((h) => ({ id: h.id, hostname: h.hostname, ip: h.ip, port: h.port })), args);

  const download = async (url: string): Promise<Download> => {
    const seconds = Math.floor(timeout / 1000);
    return create(DownloadSchema, {
      url,
      type: TaskType.STANDARD,
      tag: args.tag || undefined,
      application: args.application || undefined,
      filteredQueryParams: filters,
      requestHeader: await headersFor(),
      pieceLength: pieceLength !== undefined ? BigInt(pieceLength) : undefined,
      timeout: create(DurationSchema, { seconds: BigInt(seconds), nanos: (timeout - seconds * 1000) * 1e6 }),
      remoteIp: deps.ip,
    });
  };

  const attempt = async (url: string, target: PreheatTarget): Promise<{ description: string; unreachable: boolean } | undefined> => {
    try {
      await deps.dfdaemon.downloadTask(target, await download(url), signal);
      return undefined;
    } catch (error) {
      return { description: signal.aborted ? "Preheat timed out" : errorMessage(error), unreachable: isUnreachable(error) };
    }
  };

  await mapLimit(urls, args.concurrent_task_count || DEFAULT_CONCURRENT_TASK_COUNT, async (url) => {
    if (scope === "single_seed_peer") {
      const id = taskId({ url, tag: args.tag, application: args.application, pieceLength, filteredQueryParams: filters });
      const seeds = deps.seeds.pick(id, deps.seeds.targets().length);
      if (seeds.length === 0) {
        result.failure_tasks.push({ url, hostname: "", ip: "", description: "No seed peer available" });
        return;
      }
      // The ring owner first; the next seeds only when it cannot be reached.
      for (const seed of seeds) {
        const target = targetOf(seed);
        const failure = await attempt(url, target);
        if (failure === undefined) {
          result.success_tasks.push({ url, hostname: target.hostname, ip: target.ip });
          return;
        }
        if (!failure.unreachable || seed === seeds.at(-1) || signal.aborted) {
          result.failure_tasks.push({ url, hostname: target.hostname, ip: target.ip, description: failure.description });
          return;
        }
        deps.log.warn("Seed peer unreachable for preheat; trying the next", { url, seed: `${target.ip}:${target.port}`, error: failure.description });
      }
      return;
    }
    if (fanOut.length === 0) {
      result.failure_tasks.push({ url, hostname: "", ip: "", description: scope === "all_seed_peers" ? "No seed peer available" : "No peer matches the selection" });
      return;
    }
    const one = async (target: PreheatTarget) => {
      const failure = await attempt(url, target);
      if (failure === undefined) result.success_tasks.push({ url, hostname: target.hostname, ip: target.ip });
      else result.failure_tasks.push({ url, hostname: target.hostname, ip: target.ip, description: failure.description });
    };
    let rest = fanOut;
    if (scope === "all_seed_peers" && fanOut.length > 1) {
      // The task's own seed fetches from the origin first; the other seeds then copy it peer to peer, so the
      // origin serves it once however many seeds there are.
      const id = taskId({ url, tag: args.tag, application: args.application, pieceLength, filteredQueryParams: filters });
      const ownerId = deps.seeds.pick(id, 1)[0]?.id;
      const owner = fanOut.find((t) => t.id === ownerId) ?? fanOut[0]!;
      rest = fanOut.filter((t) => t !== owner);
      await one(owner);
    }
    await mapLimit(rest, args.concurrent_peer_count || DEFAULT_CONCURRENT_PEER_COUNT, one);
  });

  const first = result.failure_tasks[0]?.description;
  if (result.success_tasks.length === 0) throw new PreheatFailed(`All peers preheat failed${first ? `: ${first}` : ""}`, result);
  // A URL no host holds afterwards fails the preheat: the cluster is not warm for it.
  const warm = new Set(result.success_tasks.map((t) => t.url));
  const cold = urls.filter((u) => !warm.has(u));
  if (cold.length > 0) throw new PreheatFailed(`Preheat failed for ${cold.length} of ${urls.length} URLs${first ? `: ${first}` : ""}`, result);
  return result;
}

/** Whether an RPC error means the host is down rather than the download failing. */
export function isUnreachable(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Unavailable;
}
