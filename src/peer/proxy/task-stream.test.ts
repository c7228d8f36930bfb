import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readdirSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DownloadEvent } from "../download/task-manager.ts";
import type { PieceRecord } from "../storage/metadata.ts";
import { InflightPieces } from "../storage/inflight.ts";
import { taskStream } from "./task-stream.ts";

const PIECE = 64 * 1024;

/** A task content file whose pieces are written only when `land()` says so, with the matching events. */
function task(pieces: number, lastLength = PIECE) {
  const size = (pieces - 1) * PIECE + lastLength;
  const data = new Uint8Array(randomBytes(size));
  const path = join(mkdtempSync(join(tmpdir(), "libellula-task-stream-")), "content");
  const fd = openSync(path, "w+");
  const queue: DownloadEvent[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let returned = false;
  async function* events(): AsyncGenerator<DownloadEvent> {
    try {
      while (true) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      returned = true;
    }
  }
  return {
    data,
    path,
    size,
    events: events(),
    /** Writes bytes `[from, to)` of the content to the file without announcing anything. */
    write(from: number, to: number) {
      writeSync(fd, data, from, to - from, from);
    },
    /** Writes a piece to the file, then announces it. */
    land(number: number) {
      const offset = number * PIECE;
      const length = Math.min(PIECE, size - offset);
      writeSync(fd, data, offset, length, offset);
      const piece = { taskId: "t", number, offset, length, digest: "", parentId: "", trafficType: 1, costMs: 0, createdAt: 0 } as PieceRecord;
      queue.push({ kind: "piece", taskId: "t", peerId: "p", piece, trafficType: 1 });
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    returned: () => returned,
    close: () => closeSync(fd),
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

describe("taskStream()", () => {
  test("sends the bytes in order while pieces land in any order", async () => {
    const t = task(6, 1000);
    const closes: { bytes: number; error?: unknown }[] = [];
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start: 0, length: t.size, bufferSize: 10_000, available: [], onClose: (r) => closes.push(r) });
    const reading = readAll(stream);
    for (const number of [3, 5, 0, 2, 4, 1]) {
      t.land(number);
      // Let the stream run between landings, so that it really waits for the gaps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const bytes = await reading;
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(t.data))).toBe(0);
    expect(closes).toEqual([{ bytes: t.size, error: undefined }]);
    expect(t.returned()).toBe(true);
    t.close();
  });

  test("a range waits only for its own pieces and starts as soon as the first one is in", async () => {
    const t = task(8);
    const start = 2 * PIECE + 100;
    const length = PIECE;
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start, length, bufferSize: 4096, available: [], onClose: () => {} });
    const reader = stream.getReader();
    t.land(2);
    // The first chunk comes from piece 2 alone; piece 3 has not landed.
    const first = await reader.read();
    expect(first.value!.length).toBe(4096);
    expect(Buffer.compare(Buffer.from(first.value!), Buffer.from(t.data.subarray(start, start + 4096)))).toBe(0);
    t.land(3);
    const parts = [first.value!];
    let total = first.value!.length;
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      total += value.length;
    }
    expect(total).toBe(length);
    expect(Buffer.compare(Buffer.concat(parts), Buffer.from(t.data.subarray(start, start + length)))).toBe(0);
    t.close();
  });

  test("fails when the download ends without a needed piece", async () => {
    const t = task(3);
    const closes: { bytes: number; error?: unknown }[] = [];
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start: 0, length: t.size, bufferSize: PIECE, available: [], onClose: (r) => closes.push(r) });
    t.land(0);
    t.land(2);
    t.end();
    await expect(readAll(stream)).rejects.toThrow("Task ended without piece 1");
    expect(closes.length).toBe(1);
    expect(closes[0]!.bytes).toBe(PIECE);
    t.close();
  });

  test("a cancelled stream closes its file, ends the events and reports once", async () => {
    const t = task(4);
    const before = openFds();
    const closes: { bytes: number; error?: unknown }[] = [];
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start: 0, length: t.size, bufferSize: 1024, available: [], onClose: (r) => closes.push(r) });
    const reader = stream.getReader();
    t.land(0);
    await reader.read();
    await reader.cancel(new Error("Client went away"));
    expect(closes.length).toBe(1);
    expect(String(closes[0]!.error)).toContain("Client went away");
    expect(openFds()).toBeLessThanOrEqual(before);
    expect(t.returned()).toBe(true);
    t.close();
  });

  test("a piece still arriving is sent as far as its bytes have landed, before it is finished", async () => {
    const t = task(3);
    const inflight = new InflightPieces();
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start: 0, length: t.size, bufferSize: PIECE, available: [], arriving: (n) => inflight.get("t", n), onClose: () => {} });
    const reader = stream.getReader();
    const attempt = inflight.begin("t", 0, 0, PIECE);
    t.write(0, 1000);
    attempt.advanceTo(1000);
    const first = await reader.read();
    expect(Buffer.compare(Buffer.from(first.value!), Buffer.from(t.data.subarray(0, 1000)))).toBe(0);
    t.write(1000, PIECE);
    attempt.advanceTo(PIECE);
    const parts = [first.value!, (await reader.read()).value!];
    // The attempt is verified (finished) and announced; the rest of the task lands normally.
    inflight.end(attempt, { kind: "finished", digest: "crc32:1" });
    t.land(0);
    t.land(1);
    t.land(2);
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    expect(Buffer.compare(Buffer.concat(parts), Buffer.from(t.data))).toBe(0);
    t.close();
  });

  test("a piece that fails after part of it was sent fails the stream instead of sending other bytes", async () => {
    const t = task(2);
    const inflight = new InflightPieces();
    const closes: { bytes: number; error?: unknown }[] = [];
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start: 0, length: t.size, bufferSize: PIECE, available: [], arriving: (n) => inflight.get("t", n), onClose: (r) => closes.push(r) });
    const reader = stream.getReader();
    const attempt = inflight.begin("t", 0, 0, PIECE);
    t.write(0, 5000);
    attempt.advanceTo(5000);
    expect((await reader.read()).value!.length).toBe(5000);
    inflight.end(attempt, { kind: "failed", reason: "digest mismatch" });
    // Another attempt lands the whole piece, but the bytes already sent came from the failed one.
    t.land(0);
    await expect(reader.read()).rejects.toThrow("Piece 0 failed after part of it was sent: digest mismatch");
    expect(closes.length).toBe(1);
    expect(closes[0]!.bytes).toBe(5000);
    t.close();
  });

  test("the response's last byte waits for its piece to be verified, so a failure still cuts the response short", async () => {
    const t = task(1, 10_000);
    const inflight = new InflightPieces();
    const stream = taskStream({ events: t.events, path: t.path, pieceLength: PIECE, start: 0, length: t.size, bufferSize: PIECE, available: [], arriving: (n) => inflight.get("t", n), onClose: () => {} });
    const reader = stream.getReader();
    const attempt = inflight.begin("t", 0, 0, t.size);
    t.write(0, t.size);
    attempt.advanceTo(t.size);
    // Every byte has landed, but the piece is not verified: all but the last are sent.
    expect((await reader.read()).value!.length).toBe(t.size - 1);
    inflight.end(attempt, { kind: "failed", reason: "digest mismatch" });
    await expect(reader.read()).rejects.toThrow("Piece 0 failed after part of it was sent");
    t.close();
  });
});

