/** The job types a scheduler runs, bound to its model, seeds and dfdaemon client. */
import type { Logger } from "../../common/log.ts";
import type { Resource } from "../resource/resource.ts";
import type { SeedTarget } from "../scheduling/seed-peer.ts";
import type { DfdaemonClient } from "./dfdaemon-client.ts";
import type { SiblingSchedulers } from "./sibling-schedulers.ts";
import { PreheatFailed, runPreheat, type PreheatArgs } from "./preheat.ts";
import { runDeleteTask, runGetTask, runSyncPeers, type TaskArgs } from "./task-jobs.ts";
import { JobFailed, type JobExecutor } from "./worker.ts";

/** What the executors need. */
export interface JobExecutorDeps {
  resource: Resource;
  seeds: { targets(): SeedTarget[]; pick(taskId: string, n: number): SeedTarget[] };
  dfdaemon: DfdaemonClient;
  ip: string;
  clusterId: number;
  log: Logger;
  /** Removes a task and its peers from the scheduler's memory. */
  forgetTask(taskId: string): void;
  /** The other schedulers of the cluster, which delete_task makes forget the task too. */
  siblings?: SiblingSchedulers;
  fetch?: typeof fetch;
}

/** preheat, get_task, delete_task and sync_peers. */
export function createJobExecutors(deps: JobExecutorDeps): Record<string, JobExecutor> {
  const taskDeps = {
    hosts: deps.resource.hosts,
    dfdaemon: deps.dfdaemon,
    clusterId: deps.clusterId,
    forgetTask: deps.forgetTask,
    holders: (taskId: string) => deps.resource.tasks.load(taskId)?.peers().map((p) => p.host.id) ?? [],
    forgetOnSiblings: deps.siblings ? (taskId: string, signal: AbortSignal) => deps.siblings!.forgetTask(taskId, signal) : undefined,
  };
  return {
    async preheat(args, signal) {
      try {
        return await runPreheat({ hosts: deps.resource.hosts, seeds: deps.seeds, dfdaemon: deps.dfdaemon, ip: deps.ip, clusterId: deps.clusterId, log: deps.log, fetch: deps.fetch }, args as unknown as PreheatArgs, signal);
      } catch (error) {
        if (error instanceof PreheatFailed) throw new JobFailed(error.message, error.result);
        throw error;
      }
    },
    get_task: (args, signal) => runGetTask(taskDeps, args as TaskArgs, signal),
    async delete_task(args, signal) {
      const result = await runDeleteTask(taskDeps, args as TaskArgs, signal);
      const first = result.failure_tasks[0];
      if (first) throw new JobFailed(`Cannot delete the task on ${result.failure_tasks.length} hosts or schedulers: ${first.description}`, result);
      return result;
    },
    sync_peers: async () => runSyncPeers(taskDeps),
  };
}
