import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, pieceDigest } from "../../common/digest.ts";
import { InvalidArgument } from "../../common/errors.ts";
import { createLogger } from "../../common/log.ts";
import { Storage } from "../storage/storage.ts";
import { checkImport, copyIntoStorage, importPieceLength, importTaskId, localTaskMessage } from "./importer.ts";

const MIB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "persistent-cache-"));

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("persistent cache import", () => {
  test("the task ID hashes the bytes, tag, application and piece length, then PERSISTENT_CACHE", async () => {
    const bytes = new TextEncoder().encode("This is a test file");
    const path = file("a.txt", bytes);
    const plain = await importTaskId({ path, persistentReplicaCount: 1, ttlMs: 1000 });
    expect(plain).toBe(createHash("sha256").update(bytes).update("PERSISTENT_CACHE").digest("hex"));
    const tagged = await importTaskId({ path, persistentReplicaCount: 1, ttlMs: 1000, tag: "t", application: "app", pieceLength: 4 * MIB });
    expect(tagged).toBe(createHash("sha256").update(bytes).update("t").update("app").update(String(4 * MIB)).update("PERSISTENT_CACHE").digest("hex"));
    const given = await importTaskId({ path, persistentReplicaCount: 1, ttlMs: 1000, contentForCalculatingTaskId: "This is a test file" });
    expect(given).toBe("e2d0fe1585a63ec6009c8016ff8dda8b17719a637405a4e23c0ff81339148249");
  });

  test("bad requests name the field or the file", () => {
    const path = file("b.bin", new Uint8Array(10));
    expect(() => checkImport({ path: "relative.bin", persistentReplicaCount: 1, ttlMs: 1 })).toThrow('field "path" must be absolute');
    expect(() => checkImport({ path: join(dir, "missing"), persistentReplicaCount: 1, ttlMs: 1 })).toThrow("no such file");
    expect(() => checkImport({ path: dir, persistentReplicaCount: 1, ttlMs: 1 })).toThrow("not a regular file");
    expect(() => checkImport({ path, persistentReplicaCount: 0, ttlMs: 1 })).toThrow('field "persistent_replica_count" must be at least 1');
    expect(() => checkImport({ path, persistentReplicaCount: 1, ttlMs: 0 })).toThrow('field "ttl" must be positive');
    expect(() => checkImport({ path, persistentReplicaCount: 1, ttlMs: 1, pieceLength: 1024 })).toThrow(InvalidArgument);
    expect(checkImport({ path, persistentReplicaCount: 1, ttlMs: 1 })).toBe(10);
  });

  test("the copy in storage has every piece with its CRC-32 and the file's bytes", () => {
    const bytes = new Uint8Array(9 * MIB + 17).map((_, i) => (i * 31) & 0xff);
    const path = file("c.bin", bytes);
    const storage = new Storage({ dir: join(dir, "storage"), log: createLogger() });
    storage.start();
    const id = "c".repeat(64);
    const length = importPieceLength(bytes.length, { path, persistentReplicaCount: 1, ttlMs: 1 });
    expect(length).toBe(4 * MIB);
    const task = storage.create({ id, url: "", pieceLength: length, contentLength: bytes.length, kind: "persistentCache", persistent: true, ttlMs: 5000 });
    copyIntoStorage(storage, task, path);
    storage.succeed(id);
    expect(task.path).toContain(`persistent-cache-tasks/ccc/${id}`);
    expect(Buffer.compare(readFileSync(task.path), Buffer.from(bytes))).toBe(0);
    expect([...task.pieces.keys()]).toEqual([0, 1, 2]);
    expect(task.pieces.get(2)!.digest).toBe(pieceDigest(crc32(bytes.subarray(8 * MIB))));
    const message = localTaskMessage(task, { persistentReplicaCount: 2 });
    expect(message.state).toBe("Succeeded");
    expect(message.pieceCount).toBe(3);
    expect(message.currentPersistentReplicaCount).toBe(1n);
    storage.stop();
  });
});
