/** Task management jobs: which hosts hold a task (get_task), clearing it everywhere (delete_task), and the host inventory (sync_peers). */
import { Code, ConnectError } from "@connectrpc/connect";
import { errorMessage, InvalidArgument } from "../../common/errors.ts";
import { taskId } from "../../common/ids.ts";
import type { Host } from "../resource/host.ts";
import type { HostManager } from "../resource/host-manager.ts";
import type { DfdaemonClient } from "./dfdaemon-client.ts";
import { mapLimit } from "./limit.ts";
import { DEFAULT_CONCURRENT_PEER_COUNT, filteredParams } from "./preheat.ts";

/** Args of get_task and delete_task (Dragonfly's JSON keys). */
export interface TaskArgs {
  task_id?: string;
  url?: string;
  content_for_calculating_task_id?: string;
  piece_length?: number | null;
  tag?: string;
  application?: string;
  filtered_query_params?: string;
  concurrent_peer_count?: number;
}

/** What task jobs need from the scheduler. */
export interface TaskJobDeps {
  hosts: HostManager;
  dfdaemon: DfdaemonClient;
  clusterId: number;
  /** Removes the task from the scheduler's memory, so its next download starts afresh. */
  forgetTask(taskId: string): void;
  /** Host IDs whose peers of the task the scheduler knows. */
  holders(taskId: string): string[];
  /** Makes the other schedulers of the cluster forget the task; answers those that could not. */
  forgetOnSiblings?(taskId: string, signal: AbortSignal): Promise<DeleteTaskOutcome[]>;
}

/** Dragonfly's host type names by `common.v2.Host.type`. */
const HOST_TYPES = ["normal", "super", "strong", "weak"];

/** The name of a host type. */
export function hostTypeName(type: number): string {
  return HOST_TYPES[type] ?? "normal";
}

/** The task ID the args name: task_id, else derived from the URL, else from the content. */
export function taskIdOf(args: TaskArgs): string {
  if (args.task_id) return args.task_id;
  if (args.url) {
    return taskId({
      url: args.url,
      tag: args.tag,
      application: args.application,
      pieceLength: args.piece_length && args.piece_length > 0 ? args.piece_length : undefined,
      filteredQueryParams: filteredParams(args.filtered_query_params),
    });
  }
  if (args.content_for_calculating_task_id) return taskId({ url: "", contentForCalculatingTaskId: args.content_for_calculating_task_id });
  throw new InvalidArgument("Invalid args: needs task_id, url or content_for_calculating_task_id");
}

function isNotFound(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.NotFound;
}

function iso(timestamp: { seconds: bigint; nanos: number } | undefined): string | undefined {
  return timestamp ? new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6)).toISOString() : undefined;
}

/** A peer holding a task, in Dragonfly's get_task shape. */
export interface TaskHolder {
  id: string;
  hostname: string;
  ip: string;
  host_type: string;
  is_finished: boolean;
  content_length: number;
  created_at?: string;
  updated_at?: string;
}

async function findHolders(deps: TaskJobDeps, id: string, concurrency: number, signal: AbortSignal): Promise<{ holders: TaskHolder[]; hosts: Host[] }> {
  const holders: TaskHolder[] = [];
  const hosts: Host[] = [];
  await mapLimit(deps.hosts.all(), concurrency, async (host) => {
    try {
      const stat = await deps.dfdaemon.statLocalTask(host, id, signal);
      hosts.push(host);
      holders.push({
        id: `${host.id}`,
        hostname: host.hostname,
        ip: host.ip,
        host_type: hostTypeName(host.type),
        is_finished: stat.finishedAt !== undefined,
        content_length: Number(stat.contentLength),
        created_at: iso(stat.createdAt),
        updated_at: iso(stat.updatedAt),
      });
    } catch {
      // Not held there, or the host is unreachable: either way it does not serve the task.
    }
  });
  holders.sort((a, b) => a.id.localeCompare(b.id));
  return { holders, hosts };
}

/** get_task: asks every known host whether it holds the task. */
export async function runGetTask(deps: TaskJobDeps, args: TaskArgs, signal: AbortSignal) {
  const id = taskIdOf(args);
  const { holders } = await findHolders(deps, id, args.concurrent_peer_count || DEFAULT_CONCURRENT_PEER_COUNT, signal);
  return { task_id: id, peers: holders, scheduler_cluster_id: deps.clusterId };
}

/** One host's outcome of delete_task. */
export interface DeleteTaskOutcome {
  task_id: string;
  hostname: string;
  ip: string;
  description?: string;
}

/**
 * delete_task: removes the task from every host holding it, then from the memory of this scheduler and of
 * every other scheduler of the cluster (peers hash tasks to schedulers, so another one may hold it).
 */
export async function runDeleteTask(deps: TaskJobDeps, args: TaskArgs, signal: AbortSignal) {
  const id = taskIdOf(args);
  const { hosts } = await findHolders(deps, id, args.concurrent_peer_count || DEFAULT_CONCURRENT_PEER_COUNT, signal);
  const targets = new Map(hosts.map((h) => [h.id, h]));
  for (const hostId of deps.holders(id)) {
    const host = deps.hosts.load(hostId);
    if (host) targets.set(host.id, host);
  }
  const success_tasks: DeleteTaskOutcome[] = [];
  const failure_tasks: DeleteTaskOutcome[] = [];
  await mapLimit([...targets.values()], args.concurrent_peer_count || DEFAULT_CONCURRENT_PEER_COUNT, async (host) => {
    try {
      await deps.dfdaemon.deleteTask(host, id, signal);
      success_tasks.push({ task_id: id, hostname: host.hostname, ip: host.ip });
    } catch (error) {
      if (isNotFound(error)) success_tasks.push({ task_id: id, hostname: host.hostname, ip: host.ip });
      else failure_tasks.push({ task_id: id, hostname: host.hostname, ip: host.ip, description: errorMessage(error) });
    }
  });
  deps.forgetTask(id);
  if (deps.forgetOnSiblings) failure_tasks.push(...(await deps.forgetOnSiblings(id, signal)));
  return { task_id: id, success_tasks, failure_tasks, scheduler_cluster_id: deps.clusterId };
}

/** sync_peers: the hosts this scheduler knows, as the manager's peer rows. */
export function runSyncPeers(deps: Pick<TaskJobDeps, "hosts" | "clusterId">) {
  return {
    scheduler_cluster_id: deps.clusterId,
    hosts: deps.hosts.all().map((h) => ({
      id: h.id,
      hostname: h.hostname,
      type: hostTypeName(h.type),
      ip: h.ip,
      port: h.port,
      download_port: h.info.downloadPort,
      proxy_port: h.info.proxyPort,
      idc: h.idc,
      location: h.location,
      os: h.info.os,
      platform: h.info.platform,
      platform_family: h.info.platformFamily,
      platform_version: h.info.platformVersion,
      kernel_version: h.info.kernelVersion,
      git_version: h.info.build?.gitVersion ?? "",
      git_commit: h.info.build?.gitCommit ?? "",
      build_platform: h.info.build?.platform ?? "",
      created_at: new Date(h.createdAt).toISOString(),
      updated_at: new Date(h.updatedAt).toISOString(),
    })),
  };
}
