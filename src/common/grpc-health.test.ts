import { expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { HealthService, ServingStatus, healthRoutes } from "./grpc-health.ts";
import { createGrpcClient, startGrpcServer } from "./rpc.ts";

test("grpc.health.v1.Health/Check answers SERVING, NOT_SERVING and NotFound for unknown services", async () => {
  let serving = true;
  await using server = await startGrpcServer({
    routes: (router) => healthRoutes(router, ["scheduler.v2.Scheduler"], () => serving),
    listen: { host: "127.0.0.1", port: 0 },
  });
  const transport = createGrpcClient(`127.0.0.1:${server.port}`);
  // The descriptor is built at runtime, so the client is typed by hand.
  const client = createClient(HealthService, transport) as unknown as { check(r: { service?: string }): Promise<{ status: number }> };
  expect((await client.check({ service: "" })).status).toBe(ServingStatus.SERVING);
  expect((await client.check({ service: "scheduler.v2.Scheduler" })).status).toBe(ServingStatus.SERVING);
  serving = false;
  expect((await client.check({})).status).toBe(ServingStatus.NOT_SERVING);
  const error = (await client.check({ service: "nope" }).catch((e) => e)) as ConnectError;
  expect(error.code).toBe(Code.NotFound);
  transport.close();
});
