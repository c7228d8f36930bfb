/**
 * The SDK's dfdaemon client against real daemons (a scheduler, a seed peer and a peer) and a real origin:
 * downloads with progress, the event stream, stat by ID and URL, import and export, cancellation and errors.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDfdaemonClient, isSdkError, SdkError, taskIdOf, type DfdaemonClient, type Progress } from "../../sdk/src/dfdaemon/index.ts";
import { taskId as serverTaskId } from "../../src/common/ids.ts";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { sha256File, tempDir } from "../helpers/processes.ts";
import { runExample } from "./examples.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);
let origin: Origin;
let cluster: Cluster;
let peer: DfdaemonClient;
let seed: DfdaemonClient;
let out: string;

beforeAll(async () => {
  origin = startOrigin();
  out = tempDir("libellula-sdk-");
  cluster = await startCluster({ peers: 1 });
  peer = createDfdaemonClient({ socketPath: cluster.peers[0]!.socket });
  seed = createDfdaemonClient({ socketPath: cluster.seed.socket });
});

afterAll(async () => {
  peer?.close();
  seed?.close();
  await cluster?.stop();
  await origin?.stop();
});

/** Checks that progress only grows and ends at the content length. */
function expectProgress(events: Progress[], contentLength: number): void {
  expect(events.length).toBeGreaterThan(1);
  for (let i = 1; i < events.length; i++) {
    expect(events[i]!.completedLength).toBeGreaterThan(events[i - 1]!.completedLength);
    expect(events[i]!.pieces).toBe(events[i - 1]!.pieces + 1);
  }
  expect(events.at(-1)!.completedLength).toBe(contentLength);
  expect(events.every((e) => e.contentLength === contentLength)).toBe(true);
}

describe("the SDK's dfdaemon client", () => {
  test("download() reports growing progress, ends at the content length and writes the right bytes", async () => {
    const file = origin.add("/progress.bin", randomFile(21 * MIB + 5).data);
    const output = join(out, "progress.bin");
    const events: Progress[] = [];
    const result = await peer.download(origin.url("/progress.bin"), { output, onProgress: (p) => events.push(p) });
    expect(result.contentLength).toBe(file.data.length);
    expect(result.taskId).toBe(taskIdOf({ url: origin.url("/progress.bin") }));
    expect(result.output).toBe(output);
    expectProgress(events, file.data.length);
    expect(events[0]!.completedLength).toBe(0);
    expect(result.pieces).toBe(events.at(-1)!.pieces);
    expect(result.bytesByTrafficType.remote_peer + result.bytesByTrafficType.back_to_source).toBe(file.data.length);
    expect(await sha256File(output)).toBe(file.sha256);

    // Again: served from this peer's storage, with the same progress to the full length.
    const again: Progress[] = [];
    const local = await peer.download(origin.url("/progress.bin"), { output: join(out, "progress-2.bin"), onProgress: (p) => again.push(p) });
    expectProgress(again, file.data.length);
    expect(local.bytesByTrafficType.local_peer).toBe(file.data.length);
    expect(await sha256File(join(out, "progress-2.bin"))).toBe(file.sha256);
  });

  test("downloadEvents() with transfer: the bytes come over the socket and the SDK writes the file", async () => {
    const file = origin.add("/transfer.bin", randomFile(9 * MIB + 1).data);
    const output = join(out, "transfer.bin");
    const kinds: string[] = [];
    let received = 0;
    for await (const event of peer.downloadEvents(origin.url("/transfer.bin"), { output, transfer: true, headers: { "X-Sdk": "yes" } })) {
      kinds.push(event.type);
      if (event.type === "piece") received += event.content?.length ?? 0;
    }
    expect(kinds[0]).toBe("started");
    expect(kinds.filter((k) => k === "piece").length).toBeGreaterThan(1);
    expect(received).toBe(file.data.length);
    expect(await sha256File(output)).toBe(file.sha256);
    expect(origin.headers("/transfer.bin").some((h) => h.get("x-sdk") === "yes")).toBe(true);
    expect(readdirSync(out).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  test("stat and statLocal find a task by ID or by URL and identity; the SDK's task IDs are the daemon's", async () => {
    const file = origin.add("/stat.bin", randomFile(5 * MIB).data);
    const url = `${origin.url("/stat.bin")}?X-Amz-Signature=abc&keep=1`;
    const result = await peer.download(url, { tag: "t1", application: "app" });
    expect(result.taskId).toBe(serverTaskId({ url, tag: "t1", application: "app" }));
    expect(peer.taskId(url, { tag: "t1", application: "app" })).toBe(result.taskId);
    const byId = await peer.stat(result.taskId);
    const byUrl = await peer.stat(url, { tag: "t1", application: "app" });
    expect(byUrl).toEqual(byId);
    expect(byId.contentLength).toBe(file.data.length);
    expect(byId.id).toBe(result.taskId);
    const local = await peer.statLocal(result.taskId);
    expect(local.contentLength).toBe(file.data.length);
    expect((await peer.listLocalTasks()).map((t) => t.id)).toContain(result.taskId);
    // Another identity is another task.
    const other = await peer.stat(url, { tag: "t2" }).catch((error: unknown) => error);
    expect(isSdkError(other, "not_found")).toBe(true);
    for (const [input, filtered] of [["http://h/a?b=1&ns=x", undefined], ["http://h/", ["z"]], ["http://h/a?z=1", ["z"]]] as const) {
      expect(taskIdOf({ url: input, filteredQueryParams: filtered, pieceLength: 8 * MIB })).toBe(serverTaskId({ url: input, filteredQueryParams: filtered, pieceLength: 8 * MIB }));
    }
  });

  test("deleteTask removes a downloaded task", async () => {
    origin.add("/delete.bin", randomFile(1000).data);
    const { taskId } = await peer.download(origin.url("/delete.bin"));
    await peer.deleteTask(taskId);
    const gone = await peer.statLocal(taskId).catch((error: unknown) => error);
    expect(isSdkError(gone, "not_found")).toBe(true);
  });

  test("importFile on one daemon, export with progress on another, stat and delete", async () => {
    const data = randomFile(13 * MIB + 11);
    const path = join(out, "import.bin");
    writeFileSync(path, data.data);
    const task = await peer.importFile(path, { replicas: 2, ttlMs: 600_000 });
    expect(task.id).toBe(createHash("sha256").update(data.data).update("PERSISTENT_CACHE").digest("hex"));
    expect(task.contentLength).toBe(data.data.length);
    expect(task.replicas).toBe(2);
    expect(task.ttlMs).toBe(600_000);

    const output = join(out, "exported.bin");
    const events: Progress[] = [];
    const exported = await seed.export(task.id, output, { onProgress: (p) => events.push(p) });
    expect(exported.contentLength).toBe(data.data.length);
    expectProgress(events, data.data.length);
    expect(await sha256File(output)).toBe(data.sha256);

    const viaSocket = join(out, "exported-transfer.bin");
    await seed.export(task.id, viaSocket, { transfer: true, digest: `sha256:${data.sha256}` });
    expect(await sha256File(viaSocket)).toBe(data.sha256);

    const info = await seed.statPersistentCache(task.id);
    expect(info).toMatchObject({ id: task.id, contentLength: data.data.length, replicas: 2 });

    await peer.deleteTask(task.id);
    const after = await peer.export(task.id, join(out, "never.bin")).catch((error: unknown) => error);
    expect(after).toBeInstanceOf(SdkError);
    expect(existsSync(join(out, "never.bin"))).toBe(false);
  });

  test("an AbortSignal cancels a download in flight; the daemon serves the next one", async () => {
    // An origin that announces a size, then sends a few bytes and stalls.
    await using stalled = {
      server: Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch(request) {
          const headers = { "content-length": String(8 * MIB), "accept-ranges": "bytes" };
          if (request.method === "HEAD") return new Response(null, { headers });
          const body = new ReadableStream({ start: (c) => c.enqueue(new Uint8Array(1024)) });
          return new Response(body, { status: request.headers.has("range") ? 206 : 200, headers: { ...headers, "content-range": `bytes 0-${8 * MIB - 1}/${8 * MIB}` } });
        },
      }),
      async [Symbol.asyncDispose]() {
        await this.server.stop(true);
      },
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("gave up")), 1500);
    const failure = await peer
      .download(`http://127.0.0.1:${stalled.server.port}/stall.bin`, { signal: controller.signal, onProgress: () => controller.abort() })
      .catch((error: unknown) => error);
    clearTimeout(timer);
    expect(failure).toBeInstanceOf(SdkError);
    expect((failure as SdkError).code).toBe("canceled");
    expect((failure as SdkError).message).toContain("canceled");
    const file = origin.add("/after-cancel.bin", randomFile(1000).data);
    const output = join(out, "after-cancel.bin");
    await peer.download(origin.url("/after-cancel.bin"), { output });
    expect(await sha256File(output)).toBe(file.sha256);
  });

  test("errors are SdkErrors with a code and a message that says what failed", async () => {
    const badUrl = await peer.download("not a url").catch((error: unknown) => error);
    expect(badUrl).toBeInstanceOf(SdkError);
    expect(badUrl).toMatchObject({ code: "invalid_argument", message: 'Invalid URL "not a url": cannot be parsed' });

    origin.fail("/missing.bin", 404);
    const notFound = await peer.download(origin.url("/missing.bin"), { output: join(out, "missing.bin") }).catch((error: unknown) => error);
    expect(notFound).toBeInstanceOf(SdkError);
    expect((notFound as SdkError).message).toStartWith(`Download of "${origin.url("/missing.bin")}" failed: `);
    expect((notFound as SdkError).message).toContain("404");
    expect(existsSync(join(out, "missing.bin"))).toBe(false);

    const relative = await peer.download(origin.url("/progress.bin"), { output: "relative.bin" }).catch((error: unknown) => error);
    expect(relative).toMatchObject({ code: "invalid_argument", message: 'Invalid option "output" "relative.bin": must be an absolute path' });
    const smallPiece = await peer.download(origin.url("/progress.bin"), { pieceLength: 1024 }).catch((error: unknown) => error);
    expect(isSdkError(smallPiece, "invalid_argument")).toBe(true);

    const unknownTask = await peer.stat("f".repeat(64)).catch((error: unknown) => error);
    expect(unknownTask).toMatchObject({ code: "not_found" });
    expect((unknownTask as SdkError).message).toContain("f".repeat(64));

    const exists = join(out, "exists.bin");
    writeFileSync(exists, "keep");
    const refused = await peer.download(origin.url("/progress.bin"), { output: exists }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "failed_precondition" });
    expect((refused as SdkError).message).toContain("file exists");
  });

  test("a missing or dead socket is an unavailable error naming the socket", async () => {
    const missingPath = join(out, "no-such.sock");
    using missing = createDfdaemonClient({ socketPath: missingPath });
    const noSocket = await missing.stat("a".repeat(64)).catch((error: unknown) => error);
    expect(noSocket).toMatchObject({ code: "unavailable", message: `Cannot connect to dfdaemon at "${missingPath}": no such socket (is dfdaemon running?)` });
    const noSocketDownload = await missing.download(origin.url("/progress.bin")).catch((error: unknown) => error);
    expect(noSocketDownload).toMatchObject({ code: "unavailable" });

    // A path that exists but where nothing listens.
    const deadPath = join(out, "dead.sock");
    writeFileSync(deadPath, "");
    using dead = createDfdaemonClient({ socketPath: deadPath });
    const refused = await dead.stat("a".repeat(64)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SdkError);
    expect((refused as SdkError).code).toBe("unavailable");
    expect((refused as SdkError).message).toStartWith(`Cannot connect to dfdaemon at "${deadPath}": `);
  });

  test("the examples run: a download with a progress bar, an import on one daemon exported on another", async () => {
    const file = origin.add("/example.bin", randomFile(9 * MIB + 3).data);
    const output = join(out, "example.bin");
    const download = await runExample("download-with-progress.ts", [origin.url("/example.bin"), output, cluster.peers[0]!.socket]);
    expect(download.code).toBe(0);
    expect(download.stderr).toContain("100%");
    expect(download.stdout).toContain(`${file.data.length} bytes`);
    expect(await sha256File(output)).toBe(file.sha256);

    const source = join(out, "example-import.bin");
    const data = randomFile(5 * MIB + 9);
    writeFileSync(source, data.data);
    const exported = join(out, "example-exported.bin");
    const roundTrip = await runExample("import-export.ts", [source, cluster.peers[0]!.socket, cluster.seed.socket, exported]);
    expect(roundTrip.stderr).not.toContain("Error");
    expect(roundTrip.code).toBe(0);
    expect(roundTrip.stdout).toContain("imported ");
    expect(await sha256File(exported)).toBe(data.sha256);

    const failing = await runExample("download-with-progress.ts", [origin.url("/example.bin"), join(out, "x.bin"), join(out, "none.sock")]);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain("unavailable: Cannot connect to dfdaemon");
  });
});
