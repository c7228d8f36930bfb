import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ConnectRouter } from "@connectrpc/connect";
import { Scheduler } from "../../gen/scheduler/v2/scheduler_pb.ts";
import { TaskNotFound } from "../../common/errors.ts";
import { startGrpcServer, type GrpcServer } from "../../common/rpc.ts";
import { createSiblingSchedulers, type SchedulerAddress } from "./sibling-schedulers.ts";

const never = new AbortController().signal;

/** A scheduler.v2 server whose DeleteTask records its requests and knows only `known` tasks. */
async function schedulerServer(known: Set<string>, failWith?: Error) {
  const requests: { hostId: string; taskId: string }[] = [];
  const server = await startGrpcServer({
    routes: (router: ConnectRouter) => {
      router.service(Scheduler, {
        async deleteTask(request) {
          requests.push({ hostId: request.hostId, taskId: request.taskId });
          if (failWith) throw failWith;
          if (!known.delete(request.taskId)) throw new TaskNotFound(request.taskId);
          return {};
        },
      });
    },
    listen: { host: "127.0.0.1", port: 0 },
  });
  return { server, requests, known };
}

let holder: Awaited<ReturnType<typeof schedulerServer>>;
let empty: Awaited<ReturnType<typeof schedulerServer>>;
let broken: Awaited<ReturnType<typeof schedulerServer>>;
let self: Awaited<ReturnType<typeof schedulerServer>>;
const servers: GrpcServer[] = [];

beforeAll(async () => {
  holder = await schedulerServer(new Set(["t1"]));
  empty = await schedulerServer(new Set());
  broken = await schedulerServer(new Set(), new Error("disk on fire"));
  self = await schedulerServer(new Set(["t1"]));
  servers.push(holder.server, empty.server, broken.server, self.server);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const at = (hostname: string, port: number): SchedulerAddress => ({ hostname, ip: "127.0.0.1", port });

test("every other scheduler of the cluster is asked to forget the whole task; one that never knew it is no failure", async () => {
  const siblings = createSiblingSchedulers({
    managerAddr: "127.0.0.1:1",
    clusterId: 1,
    self: () => at("me", self.server.port),
    list: async () => [at("me", self.server.port), at("holder", holder.server.port), at("empty", empty.server.port)],
  });
  expect(await siblings.forgetTask("t1", never)).toEqual([]);
  expect(holder.requests).toEqual([{ hostId: "", taskId: "t1" }]);
  expect(holder.known.has("t1")).toBe(false);
  expect(empty.requests).toEqual([{ hostId: "", taskId: "t1" }]);
  // This scheduler forgets the task itself, without a call to its own server.
  expect(self.requests).toEqual([]);
  expect(self.known.has("t1")).toBe(true);
});

test("a scheduler that fails or cannot be reached is reported by name with its reason", async () => {
  const siblings = createSiblingSchedulers({
    managerAddr: "127.0.0.1:1",
    clusterId: 3,
    self: () => at("me", self.server.port),
    list: async () => [at("broken", broken.server.port), at("gone", 1)],
  });
  const failures = await siblings.forgetTask("t2", never);
  expect(failures.map((f) => f.hostname).sort()).toEqual(["broken", "gone"]);
  const brokenFailure = failures.find((f) => f.hostname === "broken")!;
  expect(brokenFailure).toMatchObject({ task_id: "t2", ip: "127.0.0.1" });
  expect(brokenFailure.description).toContain(`Cannot make scheduler "127.0.0.1:${broken.server.port}" forget the task`);
  expect(brokenFailure.description).toContain("disk on fire");
  expect(failures.find((f) => f.hostname === "gone")!.description).toContain(`"127.0.0.1:1"`);
});

test("a manager that cannot list the cluster's schedulers is one failure naming the cluster", async () => {
  const siblings = createSiblingSchedulers({
    managerAddr: "127.0.0.1:1",
    clusterId: 7,
    self: () => at("me", self.server.port),
  });
  const failures = await siblings.forgetTask("t3", never);
  expect(failures).toHaveLength(1);
  expect(failures[0]!.task_id).toBe("t3");
  expect(failures[0]!.description).toStartWith(`Cannot list the schedulers of cluster "7": `);
});
