/**
 * The other schedulers of this scheduler's cluster. Peers hash each task to one scheduler, so the scheduler
 * that runs a delete_task job may not be the one that holds the task in memory: it asks the manager for the
 * live schedulers of its cluster and calls scheduler.v2 DeleteTask with an empty host ID on each, which makes
 * that scheduler forget every peer of the task.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Manager, SourceType } from "../../gen/manager/v2/manager_pb.ts";
import { Scheduler } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { errorMessage } from "../../common/errors.ts";
import { createGrpcClient } from "../../common/rpc.ts";
import { createManagerTransport } from "../../common/manager-transport.ts";

/** Longest wait for the manager's list or one scheduler's answer. */
const CALL_TIMEOUT_MS = 10_000;

/** A scheduler as the manager lists it. */
export interface SchedulerAddress {
  hostname: string;
  ip: string;
  port: number;
}

/** A scheduler that could not forget the task, in delete_task's failure shape. */
export interface SiblingFailure {
  task_id: string;
  hostname: string;
  ip: string;
  description: string;
}

/** Tells the other schedulers of the cluster to forget tasks. */
export interface SiblingSchedulers {
  /** Every other live scheduler of the cluster forgets the task; answers those that could not. */
  forgetTask(taskId: string, signal: AbortSignal): Promise<SiblingFailure[]>;
}

/** How siblings are found and reached; the defaults use the manager and scheduler.v2 over gRPC. */
export interface SiblingSchedulersOptions {
  /** The manager's gRPC address. */
  managerAddr: string;
  clusterId: number;
  /** This scheduler as it registered with the manager (read when a job runs: the port is bound at start). */
  self(): SchedulerAddress;
  /** Lists the live schedulers of the cluster. */
  list?(signal: AbortSignal): Promise<SchedulerAddress[]>;
  /** Makes one scheduler forget the task; rejects on any error. */
  forget?(scheduler: SchedulerAddress, taskId: string, signal: AbortSignal): Promise<void>;
}

function grpcAddress(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Builds the sibling fan-out of delete_task. */
export function createSiblingSchedulers(options: SiblingSchedulersOptions): SiblingSchedulers {
  const list =
    options.list ??
    (async (signal: AbortSignal) => {
      const transport = createManagerTransport(options.managerAddr, { timeoutMs: CALL_TIMEOUT_MS });
      try {
        const self = options.self();
        const answer = await createClient(Manager, transport).listSchedulers(
          { sourceType: SourceType.SCHEDULER_SOURCE, hostname: self.hostname, ip: self.ip, schedulerClusterId: BigInt(options.clusterId) },
          { signal },
        );
        return answer.schedulers.map((s) => ({ hostname: s.hostname, ip: s.ip, port: s.port }));
      } finally {
        transport.close();
      }
    });
  const forget =
    options.forget ??
    (async (scheduler: SchedulerAddress, taskId: string, signal: AbortSignal) => {
      const transport = createGrpcClient(grpcAddress(scheduler.ip, scheduler.port), { timeoutMs: CALL_TIMEOUT_MS });
      try {
        await createClient(Scheduler, transport).deleteTask({ hostId: "", taskId }, { signal });
      } finally {
        transport.close();
      }
    });

  return {
    async forgetTask(taskId, signal) {
      const self = options.self();
      let schedulers: SchedulerAddress[];
      try {
        schedulers = await list(signal);
      } catch (error) {
        return [{ task_id: taskId, hostname: "", ip: "", description: `Cannot list the schedulers of cluster "${options.clusterId}": ${errorMessage(error)}` }];
      }
      const others = schedulers.filter((s) => s.port > 0 && !(s.ip === self.ip && s.port === self.port));
      const failures: SiblingFailure[] = [];
      await Promise.all(
        others.map(async (scheduler) => {
          try {
            await forget(scheduler, taskId, signal);
          } catch (error) {
            // A scheduler that never held the task has nothing to forget.
            if (error instanceof ConnectError && error.code === Code.NotFound) return;
            failures.push({
              task_id: taskId,
              hostname: scheduler.hostname,
              ip: scheduler.ip,
              description: `Cannot make scheduler "${grpcAddress(scheduler.ip, scheduler.port)}" forget the task: ${errorMessage(error)}`,
            });
          }
        }),
      );
      return failures;
    },
  };
}
