import { expect, test } from "bun:test";
import { STAGING_BYTES, StagingWriter } from "./staging-writer.ts";

test("StagingWriter turns many small consecutive chunks into few large writes with the same bytes", () => {
  const out = new Uint8Array(3 * 1024 * 1024);
  const writes: number[] = [];
  const writer = new StagingWriter((bytes, position) => {
    out.set(bytes, position - 100);
    writes.push(bytes.length);
  }, out.length);
  const source = new Uint8Array(out.length).map((_, i) => (i * 7) % 251);
  for (let offset = 0; offset < source.length; offset += 1448) {
    writer.write(source.subarray(offset, Math.min(offset + 1448, source.length)), 100 + offset);
  }
  writer.flush();
  expect(out).toEqual(source);
  // 1448-byte chunks (one TCP segment each) become writes of a nearly full staging buffer each.
  expect(writes.length).toBeLessThanOrEqual(Math.ceil(out.length / (STAGING_BYTES - 1448)) + 1);
  expect(writes.length).toBeLessThan(out.length / 1448 / 10);
});

test("StagingWriter flushes before a non-consecutive chunk", () => {
  const writes: [number, number][] = [];
  const writer = new StagingWriter((bytes, position) => writes.push([position, bytes.length]), 1000);
  writer.write(new Uint8Array(10), 0);
  writer.write(new Uint8Array(10), 50);
  writer.flush();
  expect(writes).toEqual([[0, 10], [50, 10]]);
});

test("StagingWriter writes large chunks directly and reuses a released buffer for the next piece", () => {
  const writes: [number, number][] = [];
  const first = new StagingWriter((bytes, position) => writes.push([position, bytes.length]), 4 * 1024 * 1024);
  first.write(new Uint8Array(256 * 1024), 0);
  first.write(new Uint8Array(100), 256 * 1024);
  first.flush();
  const staged = (first as unknown as { buffer: Uint8Array }).buffer;
  first.release();
  const second = new StagingWriter(() => {}, 4 * 1024 * 1024);
  second.write(new Uint8Array(10), 0);
  expect((second as unknown as { buffer: Uint8Array }).buffer).toBe(staged);
  expect(writes).toEqual([[0, 256 * 1024], [256 * 1024, 100]]);
});
