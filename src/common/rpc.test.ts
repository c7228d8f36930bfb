import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Scheduler, AnnouncePeerResponseSchema, type AnnouncePeerRequest } from "../gen/scheduler/v2/scheduler_pb.ts";
import { TaskNotFound } from "./errors.ts";
import { createGrpcClient, startGrpcServer, toConnectError } from "./rpc.ts";

function echoRoutes(router: import("@connectrpc/connect").ConnectRouter) {
  router.service(Scheduler, {
    async *announcePeer(requests: AsyncIterable<AnnouncePeerRequest>) {
      for await (const request of requests) {
        yield create(AnnouncePeerResponseSchema, {
          response: { case: "needBackToSourceResponse", value: { description: request.peerId } },
        });
      }
    },
    async statTask(request) {
      throw new TaskNotFound(request.taskId);
    },
  });
}

test("a bidi stream works over TCP and errors keep their code", async () => {
  await using server = await startGrpcServer({ routes: echoRoutes, listen: { host: "127.0.0.1", port: 0 } });
  const transport = createGrpcClient(`127.0.0.1:${server.port}`);
  const client = createClient(Scheduler, transport);
  async function* requests() {
    for (const peerId of ["a", "b"]) yield { hostId: "h", taskId: "t", peerId } as AnnouncePeerRequest;
  }
  const seen: string[] = [];
  for await (const response of client.announcePeer(requests())) {
    if (response.response.case === "needBackToSourceResponse") seen.push(response.response.value.description ?? "");
  }
  expect(seen).toEqual(["a", "b"]);
  const error = await client.statTask({ hostId: "h", taskId: "abc" }).catch((e) => e);
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.NotFound);
  expect((error as ConnectError).rawMessage).toBe('Task "abc" not found');
  transport.close();
});

test("a server listens on a unix socket", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "rpc-")), "d.sock");
  await using _server = await startGrpcServer({ routes: echoRoutes, listen: { path } });
  const transport = createGrpcClient(`unix:${path}`);
  const error = await createClient(Scheduler, transport).statTask({ taskId: "x" }).catch((e) => e);
  expect((error as ConnectError).code).toBe(Code.NotFound);
  transport.close();
});

test("toConnectError() maps unknown errors to Internal", () => {
  expect(toConnectError(new Error("boom")).code).toBe(Code.Internal);
});
