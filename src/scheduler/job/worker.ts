/**
 * The scheduler's job worker: claims job tasks of its cluster from the manager with a lease, runs them with
 * bounded concurrency, keeps the leases alive while they run, and reports each outcome. A scheduler that dies
 * stops renewing, so the lease runs out and another scheduler of the cluster claims the task.
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { ManagerExt, type JobTask } from "../../gen/libellula/manager/v1/manager_ext_pb.ts";
import { errorMessage } from "../../common/errors.ts";
import type { Service } from "../../common/lifecycle.ts";
import type { Logger } from "../../common/log.ts";
import { createManagerTransport, type ManagerTransport } from "../../common/manager-transport.ts";
import { timeoutMs } from "./preheat.ts";

/** Runs one job type; resolves with the result JSON or throws (JobFailed carries a result too). */
export type JobExecutor = (args: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>;

/** A failure that still has a result worth reporting (e.g. per-host outcomes). */
export class JobFailed extends Error {
  constructor(
    message: string,
    readonly result: unknown,
  ) {
    super(message);
  }
}

/** Options of the job worker. */
export interface JobWorkerOptions {
  hostname: string;
  ip: string;
  clusterId: number;
  executors: Record<string, JobExecutor>;
  log: Logger;
  /** The manager's gRPC address; ignored when `client` is given. */
  addr?: string;
  client?: Client<typeof ManagerExt>;
  /** How often to ask for work. */
  claimIntervalMs: number;
  /** How long a claim holds without renewal. */
  leaseMs: number;
  /** Job tasks run at once. */
  concurrency: number;
}

/** Wait between report attempts while the manager is unreachable. */
const REPORT_RETRY_MS = 1000;

/** Claims, runs and reports job tasks. */
export class JobWorker implements Service, AsyncDisposable {
  readonly name = "job-worker";
  private readonly client: Client<typeof ManagerExt>;
  private readonly transport: ManagerTransport | undefined;
  private readonly controller = new AbortController();
  private readonly running = new Map<bigint, Promise<void>>();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private lastRenew = 0;
  private claimFailing = false;

  constructor(private readonly options: JobWorkerOptions) {
    if (options.client) {
      this.client = options.client;
    } else {
      if (!options.addr) throw new Error("Job worker needs the manager's address");
      this.transport = createManagerTransport(options.addr, { timeoutMs: 10_000 });
      this.client = createClient(ManagerExt, this.transport);
    }
  }

  /** Job tasks running now. */
  get active(): number {
    return this.running.size;
  }

  /** Asks for work now instead of at the next interval. */
  wake(): void {
    this.wakeUp?.();
  }

  async start(): Promise<void> {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.wake();
    await this.loop;
    await Promise.allSettled(this.running.values());
    this.transport?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      await this.tick();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.options.claimIntervalMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wakeUp = done;
      });
      this.wakeUp = undefined;
    }
  }

  /** One claim round: renews running leases when due and claims as many tasks as there are free slots. */
  async tick(): Promise<void> {
    const o = this.options;
    const free = Math.max(0, o.concurrency - this.running.size);
    const renewDue = this.running.size > 0 && Date.now() - this.lastRenew >= o.leaseMs / 3;
    if (free === 0 && !renewDue) return;
    const renewIds = renewDue ? [...this.running.keys()] : [];
    try {
      const answer = await this.client.claimJobTasks(
        {
          hostname: o.hostname,
          ip: o.ip,
          schedulerClusterId: BigInt(o.clusterId),
          types: Object.keys(o.executors),
          limit: free,
          leaseMs: o.leaseMs,
          renewIds,
        },
        { signal: this.controller.signal },
      );
      if (renewDue) this.lastRenew = Date.now();
      if (this.claimFailing) o.log.info("Claiming jobs from the manager again");
      this.claimFailing = false;
      for (const task of answer.tasks) this.execute(task);
    } catch (error) {
      if (this.controller.signal.aborted) return;
      if (!this.claimFailing) o.log.warn("Cannot claim jobs from the manager", { error: errorMessage(error) });
      this.claimFailing = true;
    }
  }

  private execute(task: JobTask): void {
    const run = this.perform(task).finally(() => this.running.delete(task.id));
    this.running.set(task.id, run);
  }

  private async perform(task: JobTask): Promise<void> {
    const o = this.options;
    const log = o.log.child({ jobId: Number(task.jobId), jobTaskId: Number(task.id), type: task.type, attempt: task.attempt });
    let args: Record<string, unknown> = {};
    try {
      const parsed: unknown = task.args.length > 0 ? JSON.parse(new TextDecoder().decode(task.args)) : {};
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) args = parsed as Record<string, unknown>;
    } catch {
      await this.report(task, false, null, "Invalid job args: not JSON", log);
      return;
    }
    const executor = o.executors[task.type];
    if (!executor) {
      await this.report(task, false, null, `Unsupported job type "${task.type}"`, log);
      return;
    }
    const limitMs = timeoutMs(typeof args.timeout === "number" ? args.timeout : undefined);
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(limitMs)]);
    log.info("Running job");
    let outcome: { success: boolean; result: unknown; error: string };
    try {
      outcome = { success: true, result: await executor(args, signal), error: "" };
    } catch (error) {
      const result = error instanceof JobFailed || (error instanceof Error && "result" in error) ? (error as { result: unknown }).result : null;
      const message = signal.aborted && !this.controller.signal.aborted ? `Job timed out after ${limitMs} ms: ${errorMessage(error)}` : errorMessage(error);
      outcome = { success: false, result, error: message };
    }
    // A stopping scheduler leaves the task to its lease: another scheduler of the cluster takes it over.
    if (this.controller.signal.aborted) return;
    log.info(outcome.success ? "Job succeeded" : "Job failed", outcome.success ? {} : { error: outcome.error });
    await this.report(task, outcome.success, outcome.result, outcome.error, log);
  }

  private async report(task: JobTask, success: boolean, result: unknown, error: string, log: Logger): Promise<void> {
    const o = this.options;
    const body = new TextEncoder().encode(result === null || result === undefined ? "" : JSON.stringify(result));
    while (!this.controller.signal.aborted) {
      try {
        await this.client.reportJobTask({ id: task.id, hostname: o.hostname, ip: o.ip, success, result: body, error }, { signal: this.controller.signal });
        return;
      } catch (cause) {
        const code = cause instanceof ConnectError ? cause.code : Code.Unknown;
        if (code === Code.FailedPrecondition || code === Code.NotFound || code === Code.InvalidArgument || code === Code.PermissionDenied) {
          log.warn("Job result refused by the manager", { error: errorMessage(cause) });
          return;
        }
        log.warn("Cannot report the job result; retrying", { error: errorMessage(cause) });
        await new Promise((resolve) => setTimeout(resolve, REPORT_RETRY_MS));
      }
    }
  }
}
