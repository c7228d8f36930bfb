import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { SyncPiecesRequestSchema, type SyncPiecesResponse } from "../../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { createLogger, setLogLevel } from "../../common/log.ts";
import type { TaskManager } from "../download/task-manager.ts";
import type { SourceRegistry } from "../source/source.ts";
import { Storage } from "../storage/storage.ts";
import { syncPieces, type UploadServiceDeps } from "./upload-service.ts";

setLogLevel("error");
const log = createLogger({ test: "sync-in-flight" });
const ID = "e".repeat(64);

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), "sync-in-flight-"));
  const storage = new Storage({ dir, keep: true, log });
  storage.start();
  storage.create({ id: ID, url: "http://x/y", pieceLength: 4, contentLength: 12 });
  const deps: UploadServiceDeps = {
    storage,
    taskManager: { activeTaskIds: () => new Set([ID]) } as unknown as TaskManager,
    sources: {} as SourceRegistry,
    hostId: "127.0.0.1-sync",
    dataAddress: () => ({ ip: "127.0.0.1", tcpPort: 4005 }),
    disableShared: false,
    log,
  };
  const finish = (number: number) =>
    storage.finishPiece({ taskId: ID, number, offset: number * 4, length: 4, digest: "crc32:1", parentId: "", trafficType: 0, costMs: 1, createdAt: Date.now() });
  return { storage, deps, finish, done: () => (storage.stop(), rmSync(dir, { recursive: true, force: true })) };
}

const brief = (r: SyncPiecesResponse) => [r.number, r.inFlight];

test("a caller that asks for in-flight pieces hears of a piece when it starts, once, and again when it is finished", async () => {
  const { storage, deps, finish, done } = setUp();
  const stream = syncPieces(deps, create(SyncPiecesRequestSchema, { hostId: "child", taskId: ID, includeInFlight: true }), AbortSignal.timeout(10_000));
  const first = stream.next();
  // A piece arriving compressed is not offered until finished; one arriving plain is, from when that is known.
  const compressed = storage.beginPiece(ID, 1, 4, 4);
  const piece = storage.beginPiece(ID, 2, 8, 4);
  storage.markStreamable(piece);
  expect(brief((await first).value!)).toEqual([2, true]);
  expect(compressed.streamable).toBe(false);
  const second = stream.next();
  piece.advanceTo(10); // progress alone is not announced again
  finish(0);
  expect(brief((await second).value!)).toEqual([0, false]);
  const third = stream.next();
  finish(2);
  expect(brief((await third).value!)).toEqual([2, false]);
  const fourth = stream.next();
  finish(1);
  expect(brief((await fourth).value!)).toEqual([1, false]);
  storage.succeed(ID);
  expect((await stream.next()).done).toBe(true);
  done();
});

test("a caller that does not ask (a Dragonfly child) hears only of finished pieces", async () => {
  const { storage, deps, finish, done } = setUp();
  const stream = syncPieces(deps, create(SyncPiecesRequestSchema, { hostId: "child", taskId: ID, interestedPieceNumbers: [1, 2] }), AbortSignal.timeout(10_000));
  const first = stream.next();
  storage.beginPiece(ID, 2, 8, 4, { streamable: true });
  storage.beginPiece(ID, 1, 4, 4, { streamable: true });
  finish(1);
  expect(brief((await first).value!)).toEqual([1, false]);
  const second = stream.next();
  finish(2);
  expect(brief((await second).value!)).toEqual([2, false]);
  expect((await stream.next()).done).toBe(true);
  done();
});
