/**
 * The gRPC surface as another language sees it: a plain `@connectrpc/connect` client with the node HTTP/2
 * transport on dfdaemon's unix socket, using only code generated from proto/, no SDK and no project helpers.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TaskType } from "../../src/gen/common/v2/common_pb.ts";
import { DfdaemonDownload } from "../../src/gen/dfdaemon/v2/dfdaemon_pb.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { tempDir } from "../helpers/processes.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);
let origin: Origin;
let peer: PeerDaemon;

beforeAll(async () => {
  origin = startOrigin();
  peer = await spawnPeer({ name: "plain-connect" });
});

afterAll(async () => {
  await peer?.kill();
  await origin?.stop();
});

describe("a plain Connect client over dfdaemon's unix socket", () => {
  test("DownloadTask streams a started message and every piece, then StatTask describes the task", async () => {
    const file = origin.add("/plain.bin", randomFile(9 * MIB + 17).data);
    const output = join(tempDir("libellula-plain-"), "plain.bin");
    // gRPC over HTTP/2, the connection made on the unix socket instead of TCP; the URL's host is not used.
    const transport = createGrpcTransport({ baseUrl: "http://localhost", nodeOptions: { createConnection: () => net.connect(peer.socket) } });
    const client = createClient(DfdaemonDownload, transport);

    let taskId = "";
    let started = 0;
    const pieces = new Map<number, bigint>();
    for await (const message of client.downloadTask({ download: { url: origin.url("/plain.bin"), type: TaskType.STANDARD, outputPath: output } })) {
      taskId = message.taskId;
      if (message.response.case === "downloadTaskStartedResponse") {
        started += 1;
        expect(message.response.value.contentLength).toBe(BigInt(file.data.length));
      } else if (message.response.case === "downloadPieceFinishedResponse") {
        const piece = message.response.value.piece!;
        pieces.set(piece.number, piece.length);
        expect(piece.digest).toMatch(/^crc32:\d+$/);
      }
    }
    expect(started).toBe(1);
    expect([...pieces.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(file.data.length));
    expect(createHash("sha256").update(readFileSync(output)).digest("hex")).toBe(file.sha256);
    // The task ID is Dragonfly's: sha256 of the URL and "STANDARD" when nothing else is given.
    expect(taskId).toBe(createHash("sha256").update(`${origin.url("/plain.bin")}STANDARD`).digest("hex"));

    const task = await client.statTask({ taskId });
    expect(task.id).toBe(taskId);
    expect(task.contentLength).toBe(BigInt(file.data.length));
    expect(task.pieceCount).toBe(pieces.size);

    const missing = await client.statTask({ taskId: "0".repeat(64) }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.NotFound);
  });

  test("an origin error ends the stream with a gRPC status and the origin's answer in the message", async () => {
    origin.fail("/gone.bin", 404);
    const transport = createGrpcTransport({ baseUrl: "http://localhost", nodeOptions: { createConnection: () => net.connect(peer.socket) } });
    const client = createClient(DfdaemonDownload, transport);
    const failure = await (async () => {
      for await (const _ of client.downloadTask({ download: { url: origin.url("/gone.bin"), type: TaskType.STANDARD } })) {
        // no message is expected before the failure
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectError);
    expect((failure as ConnectError).rawMessage).toContain("404");
  });
});
