import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../common/log.ts";
import { collectGarbage } from "./gc.ts";
import { Storage } from "./storage.ts";

const log = createLogger({ test: "storage" });
const ID = "a".repeat(64);

function open(dir = mkdtempSync(join(tmpdir(), "storage-")), keep = true): Storage {
  const storage = new Storage({ dir, keep, log });
  storage.start();
  return storage;
}

function piece(number: number, offset: number, length: number) {
  return { taskId: ID, number, offset, length, digest: "crc32:1", parentId: "", trafficType: 0, costMs: 1, createdAt: Date.now() };
}

describe("Storage", () => {
  test("writes pieces at their offsets into one content file under tasks/<id[0..3]>", async () => {
    const storage = open();
    const task = storage.create({ id: ID, url: "http://x/y", pieceLength: 4, contentLength: 10 });
    expect(task.path.endsWith(`content/tasks/aaa/${ID}`)).toBe(true);
    await storage.write(ID, new TextEncoder().encode("89"), 8);
    await storage.write(ID, new TextEncoder().encode("01234567"), 0);
    storage.finishPiece(piece(2, 8, 2));
    storage.succeed(ID);
    expect(readFileSync(task.path, "utf8")).toBe("0123456789");
    expect(new TextDecoder().decode(storage.read(ID, 3, 4))).toBe("3456");
    storage.stop();
  });

  test("a kept storage finds finished tasks after a restart and marks interrupted ones failed", () => {
    const dir = mkdtempSync(join(tmpdir(), "storage-"));
    const first = open(dir);
    first.create({ id: ID, url: "u", pieceLength: 4, contentLength: 8 });
    first.finishPiece(piece(0, 0, 4));
    const other = "b".repeat(64);
    first.create({ id: other, url: "u2", pieceLength: 4, contentLength: 4 });
    first.succeed(other);
    first.stop();
    const second = open(dir);
    expect(second.get(ID)?.record.state).toBe("failed");
    expect(second.get(ID)?.pieces.has(0)).toBe(true);
    expect(second.get(other)?.record.state).toBe("succeeded");
    second.stop();
    const wiped = open(dir, false);
    expect(wiped.list()).toEqual([]);
    wiped.stop();
  });

  test("create() refuses content larger than the free disk space with a clear error", () => {
    const storage = open();
    expect(() => storage.create({ id: ID, url: "u", pieceLength: 4, contentLength: Number.MAX_SAFE_INTEGER })).toThrow(
      /needs \d+ bytes but only \d+ are free/,
    );
    storage.stop();
  });

  test("export() hard-links, refuses to overwrite, and never leaves a partial file", async () => {
    const storage = open();
    const out = mkdtempSync(join(tmpdir(), "export-"));
    storage.create({ id: ID, url: "u", pieceLength: 4, contentLength: 3 });
    await storage.write(ID, new TextEncoder().encode("abc"), 0);
    storage.succeed(ID);
    expect(storage.export(ID, join(out, "a"))).toBe("link");
    expect(statSync(join(out, "a")).nlink).toBe(2);
    writeFileSync(join(out, "b"), "old");
    expect(() => storage.export(ID, join(out, "b"))).toThrow("file exists");
    expect(readFileSync(join(out, "b"), "utf8")).toBe("old");
    expect(storage.export(ID, join(out, "b"), { overwrite: true })).toBe("link");
    expect(readFileSync(join(out, "b"), "utf8")).toBe("abc");
    storage.stop();
  });

  test("waitForChange() wakes on a finished piece", async () => {
    const storage = open();
    storage.create({ id: ID, url: "u", pieceLength: 4, contentLength: 8 });
    const woken = storage.waitForChange(ID, undefined, 60_000);
    storage.finishPiece(piece(0, 0, 4));
    await woken;
    expect(storage.get(ID)?.pieces.size).toBe(1);
    storage.stop();
  });
});

describe("collectGarbage()", () => {
  test("evicts tasks past their TTL but not busy ones", () => {
    const storage = open();
    storage.create({ id: ID, url: "u", pieceLength: 4, contentLength: 4 });
    storage.succeed(ID);
    const busy = "c".repeat(64);
    storage.create({ id: busy, url: "u", pieceLength: 4, contentLength: 4 });
    const policy = { taskTTL: 1000, diskHighThresholdPercent: 100, diskLowThresholdPercent: 99 };
    expect(collectGarbage(storage, policy, new Set([busy]), log, Date.now() + 5000)).toEqual([ID]);
    expect(existsSync(storage.contentPath(ID))).toBe(false);
    expect(storage.get(busy)).toBeDefined();
    storage.stop();
  });

  test("evicts the oldest finished tasks when usage passes the high threshold", () => {
    const storage = open();
    const ids = ["1", "2", "3"].map((c) => c.repeat(64));
    for (const id of ids) {
      storage.create({ id, url: id, pieceLength: 4, contentLength: 100 });
      storage.succeed(id);
    }
    storage.get(ids[0]!)!.record.updatedAt = Date.now() - 60_000;
    const policy = { taskTTL: 1e12, diskHighThresholdPercent: 80, diskLowThresholdPercent: 50, diskThreshold: 300 };
    const evicted = collectGarbage(storage, policy, new Set(), log);
    expect(evicted.length).toBe(2);
    expect(evicted[0]).toBe(ids[0]!);
    expect(storage.list().length).toBe(1);
    storage.stop();
  });
});
