import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ClaimJobTasksResponseSchema, JobTaskSchema, type ClaimJobTasksRequest, type ManagerExt, type ReportJobTaskRequest } from "../../gen/libellula/manager/v1/manager_ext_pb.ts";
import { createLogger } from "../../common/log.ts";
import { JobFailed, JobWorker, type JobExecutor } from "./worker.ts";

const log = createLogger({ component: "test" });

/** A manager that hands out the given tasks once and records claims and reports. */
function fakeManager(tasks: { id: number; type: string; args: unknown }[]) {
  const claims: ClaimJobTasksRequest[] = [];
  const reports: ReportJobTaskRequest[] = [];
  const pending = [...tasks];
  let refuseReports = 0;
  const client = {
    async claimJobTasks(request: ClaimJobTasksRequest) {
      claims.push(request);
      // As the manager does, only tasks of the types the worker runs are handed out.
      const taken: typeof pending = [];
      for (let i = 0; i < pending.length && taken.length < request.limit; ) {
        if (request.types.length === 0 || request.types.includes(pending[i]!.type)) taken.push(...pending.splice(i, 1));
        else i++;
      }
      return create(ClaimJobTasksResponseSchema, {
        tasks: taken.map((t) => create(JobTaskSchema, { id: BigInt(t.id), jobId: BigInt(t.id), type: t.type, args: new TextEncoder().encode(JSON.stringify(t.args)), attempt: 1 })),
      });
    },
    async reportJobTask(request: ReportJobTaskRequest) {
      if (refuseReports > 0) {
        refuseReports--;
        throw new ConnectError("manager restarting", Code.Unavailable);
      }
      reports.push(request);
      return {};
    },
  } as unknown as Client<typeof ManagerExt>;
  return { client, claims, reports, refuse: (n: number) => (refuseReports = n) };
}

function worker(client: Client<typeof ManagerExt>, executors: Record<string, JobExecutor>, concurrency = 2) {
  return new JobWorker({ client, hostname: "s1", ip: "10.0.0.1", clusterId: 1, executors, log, claimIntervalMs: 10, leaseMs: 30, concurrency });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test("the worker claims up to its free slots, renews running leases, and reports results and failures", async () => {
  let finish: () => void = () => {};
  const gate = new Promise<void>((resolve) => (finish = resolve));
  const manager = fakeManager([
    { id: 1, type: "preheat", args: { n: 1 } },
    { id: 2, type: "preheat", args: { n: 2 } },
    { id: 3, type: "get_task", args: {} },
  ]);
  await using w = worker(manager.client, {
    async preheat(args) {
      await gate;
      if (args.n === 2) throw new JobFailed("All peers preheat failed: status 500", { success_tasks: [], failure_tasks: [{ url: "u" }] });
      return { ok: args.n };
    },
  });
  await w.start();
  await until(() => w.active === 2, "two running tasks");
  expect(manager.claims[0]!.types).toEqual(["preheat"]);
  expect(manager.claims[0]!.limit).toBe(2);
  // Full: the next rounds only renew, with limit 0 and the running task IDs.
  await until(() => manager.claims.some((c) => c.limit === 0 && c.renewIds.length === 2), "a renewal");
  finish();
  await until(() => manager.reports.length === 2, "two reports");
  const byId = new Map(manager.reports.map((r) => [Number(r.id), r]));
  expect(byId.get(1)!.success).toBe(true);
  expect(JSON.parse(new TextDecoder().decode(byId.get(1)!.result))).toEqual({ ok: 1 });
  expect(byId.get(2)!.success).toBe(false);
  expect(byId.get(2)!.error).toBe("All peers preheat failed: status 500");
  expect(JSON.parse(new TextDecoder().decode(byId.get(2)!.result)).failure_tasks).toEqual([{ url: "u" }]);
  expect(byId.get(1)!.hostname).toBe("s1");
  // The get_task task is for schedulers that run it: this worker never claimed it.
  expect(manager.reports.map((r) => Number(r.id)).sort()).toEqual([1, 2]);
});

test("a report is retried while the manager is unavailable, and a task past its timeout fails with the reason", async () => {
  const manager = fakeManager([{ id: 7, type: "preheat", args: { timeout: 20_000_000 } }]);
  manager.refuse(1);
  await using w = worker(manager.client, {
    preheat: (_args, signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")))),
  });
  await w.start();
  await until(() => manager.reports.length === 1, "the report");
  expect(manager.reports[0]!.success).toBe(false);
  expect(manager.reports[0]!.error).toBe("Job timed out after 20 ms: aborted");
});

test("a stopping worker leaves its running task to the lease instead of reporting it", async () => {
  const manager = fakeManager([{ id: 9, type: "preheat", args: {} }]);
  const w = worker(manager.client, { preheat: (_args, signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("stopped")))) });
  await w.start();
  await until(() => w.active === 1, "the running task");
  await w.stop();
  expect(manager.reports).toEqual([]);
});
