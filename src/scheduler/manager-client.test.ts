import { afterEach, expect, test } from "bun:test";
import { createServer } from "node:http";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Priority } from "../gen/common/v2/common_pb.ts";
import {
  Manager,
  SchedulerSchema,
  SourceType,
  type KeepAliveRequest,
  type UpdateSchedulerRequest,
} from "../gen/manager/v2/manager_pb.ts";
import { ManagerExt, type HeartbeatRequest } from "../gen/libellula/manager/v1/manager_ext_pb.ts";
import { createLogger, setLogLevel } from "../common/log.ts";
import { startGrpcServer, type GrpcServer } from "../common/rpc.ts";
import { loadSchedulerConfig } from "./config.ts";
import { dynconfigFromScheduler } from "./manager-client.ts";
import { createScheduler } from "./scheduler.ts";
import { waitFor } from "./testing.ts";

setLogLevel("error");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** A tiny manager.v2 server that records what the scheduler sends. */
function fakeManager() {
  const state = {
    updates: [] as UpdateSchedulerRequest[],
    keepAlives: [] as KeepAliveRequest[],
    streams: 0,
    /** Fail the first keep-alive stream after this many messages (0 = never). */
    failFirstStreamAfter: 0,
    config: { candidate_parent_limit: 5, filter_parent_limit: 40 } as Record<string, unknown>,
  };
  const routes = (router: ConnectRouter) =>
    router.service(Manager, {
      async updateScheduler(request) {
        state.updates.push(request);
        return create(SchedulerSchema, { id: 1n, hostname: request.hostname, ip: request.ip, port: request.port });
      },
      async keepAlive(requests) {
        const stream = ++state.streams;
        let count = 0;
        for await (const request of requests) {
          state.keepAlives.push(request);
          if (stream === 1 && ++count === state.failFirstStreamAfter) throw new ConnectError("manager restarting", Code.Unavailable);
        }
        return {};
      },
      async getScheduler(request) {
        return create(SchedulerSchema, {
          id: 1n,
          hostname: request.hostname,
          schedulerClusterId: request.schedulerClusterId,
          schedulerCluster: { id: 1n, name: "cluster-1", config: json(state.config), clientConfig: json({ load_limit: 50 }) },
          seedPeers: [
            { id: 1n, hostname: "seed-1", ip: "10.0.0.9", port: 4000, state: "active", seedPeerCluster: { id: 1n, config: json({ load_limit: 500 }) } },
            { id: 2n, hostname: "seed-2", ip: "10.0.0.10", port: 4000, state: "inactive" },
          ],
        });
      },
      async listApplications() {
        return { applications: [{ id: 1n, name: "app", priority: { value: Priority.LEVEL3, urls: [] } }] };
      },
    });
  return { state, routes };
}

async function startManager(routes: (router: ConnectRouter) => void, port = 0): Promise<GrpcServer> {
  const server = await startGrpcServer({ routes, listen: { host: "127.0.0.1", port } });
  // Stopped after the scheduler, so no keep-alive stream holds the server open.
  cleanups.unshift(() => server.stop());
  return server;
}

async function startScheduler(managerPort: number | string) {
  const config = loadSchedulerConfig({
    overrides: {
      "server.listenIP": "127.0.0.1",
      "server.advertiseIP": "127.0.0.1",
      "server.host": "scheduler-test",
      "server.port": "0",
      "manager.addr": typeof managerPort === "string" ? managerPort : `127.0.0.1:${managerPort}`,
      "manager.schedulerClusterID": "7",
      "manager.keepAlive.interval": "20ms",
      "dynConfig.refreshInterval": "20ms",
    },
  });
  const scheduler = createScheduler(config, { log: createLogger() });
  await scheduler.start();
  cleanups.push(() => scheduler.stop());
  return scheduler;
}

test("the scheduler registers with the manager, keeps alive and applies the cluster config", async () => {
  const manager = fakeManager();
  const server = await startManager(manager.routes);
  const scheduler = await startScheduler(server.port);
  expect(manager.state.updates.length).toBe(1);
  const update = manager.state.updates[0]!;
  expect(update.sourceType).toBe(SourceType.SCHEDULER_SOURCE);
  expect(update.features).toEqual(["schedule", "preheat"]);
  expect(update.hostname).toBe("scheduler-test");
  expect(update.ip).toBe("127.0.0.1");
  expect(update.port).toBe(scheduler.port);
  expect(update.schedulerClusterId).toBe(7n);
  expect(scheduler.settings.candidateParentLimit).toBe(5);
  expect(scheduler.settings.filterParentLimit).toBe(40);
  expect(scheduler.settings.normalLoadLimit).toBe(50);
  expect(scheduler.settings.seedLoadLimit).toBe(500);
  expect(scheduler.settings.applications.map((a) => a.name)).toEqual(["app"]);
  expect(scheduler.seeds.targets().map((t) => `${t.ip}:${t.port}`)).toEqual(["10.0.0.9:4000"]);
  await waitFor(() => manager.state.keepAlives.length >= 3, 5000, "keep-alives");
  const keepAlive = manager.state.keepAlives[0]!;
  expect(keepAlive.hostname).toBe("scheduler-test");
  expect(keepAlive.clusterId).toBe(7n);
  expect(keepAlive.ip).toBe("127.0.0.1");
  manager.state.config = { candidate_parent_limit: 2, filter_parent_limit: 20 };
  await waitFor(() => scheduler.settings.candidateParentLimit === 2, 5000, "the refreshed config");
  expect(scheduler.settings.filterParentLimit).toBe(20);
});

test("the scheduler runs without a reachable manager and registers once the manager comes up", async () => {
  const probe = await startGrpcServer({ routes: () => {}, listen: { host: "127.0.0.1", port: 0 } });
  const port = probe.port;
  await probe.stop();
  const scheduler = await startScheduler(port);
  expect(scheduler.manager?.isRegistered).toBe(false);
  expect(scheduler.port).toBeGreaterThan(0);
  const manager = fakeManager();
  await startManager(manager.routes, port);
  await waitFor(() => manager.state.updates.length === 1 && manager.state.keepAlives.length > 0, 5000, "registration");
  expect(scheduler.manager?.isRegistered).toBe(true);
});

test("the keep-alive stream is re-dialed after it fails", async () => {
  const manager = fakeManager();
  manager.state.failFirstStreamAfter = 2;
  const server = await startManager(manager.routes);
  await startScheduler(server.port);
  await waitFor(() => manager.state.streams >= 2, 5000, "a re-dialed stream");
  const before = manager.state.keepAlives.length;
  await waitFor(() => manager.state.keepAlives.length > before, 5000, "keep-alives on the new stream");
  expect(manager.state.updates.length).toBe(1);
});

/** The fake manager behind plain HTTP/1.1, as an edge-hosted one is reached, with the unary Heartbeat. */
async function startHttp1Manager(manager: ReturnType<typeof fakeManager>) {
  const heartbeats: HeartbeatRequest[] = [];
  const control = { forget: false };
  const handler = connectNodeAdapter({
    routes: (router) => {
      manager.routes(router);
      router.service(ManagerExt, {
        async heartbeat(request) {
          if (control.forget) {
            control.forget = false;
            throw new ConnectError(`Scheduler "${request.hostname}" not found`, Code.NotFound);
          }
          heartbeats.push(request);
          return { intervalMs: request.intervalMs };
        },
      });
    },
  });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, heartbeats, control };
}

test("with an http:// manager.addr the scheduler sends unary heartbeats, not the KeepAlive stream, and re-registers when forgotten", async () => {
  const manager = fakeManager();
  const http1 = await startHttp1Manager(manager);
  const scheduler = await startScheduler(http1.url);
  expect(manager.state.updates.length).toBe(1);
  expect(manager.state.updates[0]!.hostname).toBe("scheduler-test");
  expect(scheduler.settings.candidateParentLimit).toBe(5);
  await waitFor(() => http1.heartbeats.length >= 3, 5000, "heartbeats");
  expect(http1.heartbeats[0]).toMatchObject({ sourceType: SourceType.SCHEDULER_SOURCE, hostname: "scheduler-test", clusterId: 7n, ip: "127.0.0.1", intervalMs: 20 });
  expect(http1.heartbeats[0]!.version).not.toBe("");
  http1.control.forget = true;
  await waitFor(() => manager.state.updates.length === 2, 5000, "registration after the manager forgot the scheduler");
  const before = http1.heartbeats.length;
  await waitFor(() => http1.heartbeats.length > before, 5000, "heartbeats after re-registering");
  expect(manager.state.streams).toBe(0);
  expect(manager.state.keepAlives).toEqual([]);
});

test("dynconfigFromScheduler() ignores bad JSON and out-of-range values", () => {
  const bad = create(SchedulerSchema, {
    schedulerCluster: { config: new TextEncoder().encode("{not json"), clientConfig: json({ load_limit: -3 }) },
    seedPeers: [{ ip: "", port: 4000, state: "active" }],
  });
  const dynconfig = dynconfigFromScheduler(bad, []);
  expect(dynconfig.candidateParentLimit).toBeUndefined();
  expect(dynconfig.filterParentLimit).toBeUndefined();
  expect(dynconfig.normalLoadLimit).toBeUndefined();
  expect(dynconfig.seedPeers).toEqual([]);
});
