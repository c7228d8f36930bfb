import { afterEach, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRITE_SLICE_BYTES, writeAllSync } from "./file-write.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("writeAllSync writes a buffer larger than one slice at its position, byte for byte", () => {
  const dir = mkdtempSync(join(tmpdir(), "file-write-"));
  dirs.push(dir);
  const path = join(dir, "out");
  const bytes = new Uint8Array(WRITE_SLICE_BYTES * 3 + 1234);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  const fd = openSync(path, "w+");
  try {
    writeAllSync(fd, new Uint8Array([1, 2, 3]), 0);
    writeAllSync(fd, bytes, 3);
    writeAllSync(fd, new Uint8Array(0), 10);
  } finally {
    closeSync(fd);
  }
  const written = readFileSync(path);
  expect(written.length).toBe(bytes.length + 3);
  expect([...written.subarray(0, 3)]).toEqual([1, 2, 3]);
  expect(Buffer.compare(written.subarray(3), Buffer.from(bytes))).toBe(0);
});

test("writeAllSync reports a bad file descriptor", () => {
  expect(() => writeAllSync(987654, new Uint8Array(10), 0)).toThrow();
});
