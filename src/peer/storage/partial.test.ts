import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { SyncPiecesRequestSchema } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createLogger } from "../../common/log.ts";
import type { TaskManager } from "../download/task-manager.ts";
import { syncPieces, type UploadServiceDeps } from "../rpc/upload-service.ts";
import type { SourceRegistry } from "../source/source.ts";
import { collectGarbage } from "./gc.ts";
import { Storage } from "./storage.ts";

const log = createLogger({ test: "partial" });
const ID = "b".repeat(64);

function open(dir: string): Storage {
  const storage = new Storage({ dir, keep: true, log });
  storage.start();
  return storage;
}

function piece(number: number) {
  return { taskId: ID, number, offset: number * 4, length: 4, digest: "crc32:1", parentId: "", trafficType: 0, costMs: 1, createdAt: Date.now() };
}

/** A task of three 4-byte pieces holding only piece 1, left partial. */
function partialTask(storage: Storage) {
  storage.create({ id: ID, url: "http://x/y", pieceLength: 4, contentLength: 12 });
  storage.finishPiece(piece(1));
  storage.leavePartial(ID);
}

test("a partial task keeps its pieces across a restart and a new download of it resumes from them", () => {
  const dir = mkdtempSync(join(tmpdir(), "partial-"));
  const first = open(dir);
  partialTask(first);
  expect(first.get(ID)!.record.state).toBe("partial");
  first.stop();

  const second = open(dir);
  const task = second.get(ID)!;
  expect(task.record.state).toBe("partial");
  expect([...task.pieces.keys()]).toEqual([1]);
  const resumed = second.create({ id: ID, url: "http://x/y", pieceLength: 4, contentLength: 12 });
  expect(resumed).toBe(task);
  expect(resumed.record.state).toBe("running");
  expect([...resumed.pieces.keys()]).toEqual([1]);
  second.stop();
});

test("GC evicts a partial task under disk pressure like a finished one", () => {
  const storage = open(mkdtempSync(join(tmpdir(), "partial-")));
  partialTask(storage);
  const policy = { taskTTL: 1e12, diskHighThresholdPercent: 80, diskLowThresholdPercent: 50, diskThreshold: 12 };
  expect(collectGarbage(storage, policy, new Set(), log)).toEqual([ID]);
  storage.stop();
});

test("SyncPieces on a partial task sends the pieces it holds and ends instead of waiting for the rest", async () => {
  const storage = open(mkdtempSync(join(tmpdir(), "partial-")));
  partialTask(storage);
  let downloading = new Set<string>();
  const deps: UploadServiceDeps = {
    storage,
    // Only activeTaskIds() is used: which tasks have a download running here.
    taskManager: { activeTaskIds: () => downloading } as unknown as TaskManager,
    sources: {} as SourceRegistry,
    hostId: "127.0.0.1-partial",
    dataAddress: () => ({ ip: "127.0.0.1", tcpPort: 4005 }),
    disableShared: false,
    log,
  };
  const numbers: number[] = [];
  for await (const response of syncPieces(deps, create(SyncPiecesRequestSchema, { hostId: "other", taskId: ID }), AbortSignal.timeout(10_000))) {
    numbers.push(response.number);
  }
  expect(numbers).toEqual([1]);

  // While a download of the task runs here, more pieces may come: the stream waits for them.
  storage.update(storage.get(ID)!, { state: "running" });
  downloading = new Set([ID]);
  const stream = syncPieces(
    deps,
    create(SyncPiecesRequestSchema, { hostId: "other", taskId: ID, interestedPieceNumbers: [0, 1] }),
    AbortSignal.timeout(10_000),
  );
  expect((await stream.next()).value?.number).toBe(1);
  const next = stream.next();
  storage.finishPiece(piece(0));
  expect((await next).value?.number).toBe(0);
  expect((await stream.next()).done).toBe(true);
  storage.stop();
});
