/**
 * Range requests download only the pieces they need: through the proxy (with and without prefetch, by config
 * and by header), over the daemon's socket (Download.range), when ranges of one task overlap in time, when a
 * full download follows or joins a ranged one, and when another peer takes the task from a peer that holds
 * only a range (through the scheduler).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { DownloadSchema, TaskType } from "../../src/gen/common/v2/common_pb.ts";
import { connectDaemon } from "../../src/cli/daemon-client.ts";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { metric, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(120_000);

const MIB = 1024 * 1024;
/** Dragonfly's smallest piece: files of a few pieces get exactly this length. */
const PIECE = 4 * MIB;
/** Bytes the origin may send beyond the pieces themselves (the stat's one-byte probe of each download). */
const STAT_SLACK = 16;

interface Blob {
  data: Uint8Array;
  sha256: string;
}

function blob(size: number): Blob {
  const data = new Uint8Array(randomBytes(size));
  return { data, sha256: sha256(data) };
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** An origin with single-range support that counts the body bytes it sends and can hold back given ranges. */
function countingOrigin() {
  const files = new Map<string, Blob>();
  const sent = new Map<string, number>();
  const asked = new Map<string, string[]>();
  const gates = new Map<string, { start: number; open: Promise<void>; release: () => void }>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const file = files.get(path);
      if (!file) return new Response("not found", { status: 404 });
      const size = file.data.length;
      const header = request.headers.get("range");
      const match = /^bytes=(\d+)-(\d*)$/.exec(header ?? "");
      const start = match ? Number(match[1]) : 0;
      const end = match?.[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
      if (match && start >= size) return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
      // The proxy asks with HEAD whether a client may read a task others brought in: no body, not counted.
      if (request.method === "HEAD") return new Response(null, { headers: { "content-length": String(size) } });
      asked.set(path, [...(asked.get(path) ?? []), header ?? "whole"]);
      const gate = gates.get(path);
      if (gate && start === gate.start) await gate.open;
      const body = file.data.subarray(start, end + 1);
      sent.set(path, (sent.get(path) ?? 0) + body.length);
      const headers: Record<string, string> = { "content-type": "application/octet-stream", "content-length": String(body.length) };
      if (match) headers["content-range"] = `bytes ${start}-${end}/${size}`;
      return new Response(body as Uint8Array<ArrayBuffer>, { status: match ? 206 : 200, headers });
    },
  });
  return {
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    add(path: string, file: Blob) {
      files.set(path, file);
      return file;
    },
    sent: (path: string) => sent.get(path) ?? 0,
    /** Range headers received for a path ("whole" for none). */
    asked: (path: string) => asked.get(path) ?? [],
    /** Holds back requests for the range starting at `start` until the returned function is called. */
    hold(path: string, start: number): () => void {
      let release!: () => void;
      const open = new Promise<void>((resolve) => (release = resolve));
      gates.set(path, { start, open, release });
      return release;
    },
    stop: () => server.stop(true),
  };
}

let origin: ReturnType<typeof countingOrigin>;
let peer: PeerDaemon;
let prefetching: PeerDaemon;
let scheduler: SchedulerDaemon;
let peerA: PeerDaemon;
let peerB: PeerDaemon;

/** A file of six pieces, the last one short. */
const fileOfSixPieces = () => blob(5 * PIECE + 54321);

function get(daemon: PeerDaemon, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(origin.url(path), { proxy: `http://127.0.0.1:${daemon.proxyPort}`, headers } as RequestInit);
}

async function bodyOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** Waits until a daemon has no download running (its background jobs included). */
function idle(daemon: PeerDaemon): Promise<boolean> {
  return waitFor(async () => (await metric(daemon.metricsPort, "libellula_active_tasks")) === 0, `${daemon.name} to be idle`, 60_000);
}

beforeAll(async () => {
  origin = countingOrigin();
  scheduler = await spawnScheduler();
  [peer, prefetching, peerA, peerB] = await Promise.all([
    spawnPeer({ name: "range" }),
    spawnPeer({ name: "range-prefetch", extra: ["--proxy.prefetch", "true"] }),
    spawnPeer({ name: "range-a", schedulers: [scheduler.address] }),
    spawnPeer({ name: "range-b", schedulers: [scheduler.address] }),
  ]);
});

afterAll(async () => {
  await Promise.all([peer, prefetching, peerA, peerB].map((d) => d?.kill()));
  await scheduler?.kill();
  await origin?.stop();
});

describe("range requests through the proxy", () => {
  test("without prefetch a Range of one piece has only that piece fetched from the origin", async () => {
    const path = "/v2/range/blobs/sha256:one-piece";
    const file = origin.add(path, fileOfSixPieces());
    const response = await get(peer, path, { range: `bytes=${2 * PIECE}-${3 * PIECE - 1}` });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${2 * PIECE}-${3 * PIECE - 1}/${file.data.length}`);
    expect(sha256(await bodyOf(response))).toBe(sha256(file.data.subarray(2 * PIECE, 3 * PIECE)));
    await idle(peer);
    expect(origin.sent(path)).toBeGreaterThanOrEqual(PIECE);
    expect(origin.sent(path)).toBeLessThanOrEqual(PIECE + STAT_SLACK);

    // A range inside the pieces already stored is served without the origin.
    const before = origin.sent(path);
    const inner = await get(peer, path, { range: `bytes=${2 * PIECE + 10}-${2 * PIECE + 1033}` });
    expect(inner.status).toBe(206);
    expect(sha256(await bodyOf(inner))).toBe(sha256(file.data.subarray(2 * PIECE + 10, 2 * PIECE + 1034)));
    expect(origin.sent(path)).toBe(before);
  });

  test("a full GET after a ranged one fetches only the missing pieces", async () => {
    const path = "/v2/range/blobs/sha256:then-whole";
    const file = origin.add(path, fileOfSixPieces());
    // A suffix range: the last piece, resolved against the content length.
    const tail = await get(peer, path, { range: "bytes=-1000" });
    expect(tail.status).toBe(206);
    expect(sha256(await bodyOf(tail))).toBe(sha256(file.data.subarray(file.data.length - 1000)));
    await idle(peer);
    expect(origin.sent(path)).toBeLessThanOrEqual(54321 + STAT_SLACK);

    const whole = await get(peer, path);
    expect(whole.status).toBe(200);
    expect(sha256(await bodyOf(whole))).toBe(file.sha256);
    await idle(peer);
    expect(origin.sent(path)).toBeGreaterThanOrEqual(file.data.length);
    expect(origin.sent(path)).toBeLessThanOrEqual(file.data.length + 2 * STAT_SLACK);
    // Now the task is complete: served from storage.
    const again = await get(peer, path);
    expect(again.headers.get("x-dragonfly-task-download-finished")).toBe("true");
    expect(sha256(await bodyOf(again))).toBe(file.sha256);
  });

  test("two ranges of one task at the same time both complete, each piece fetched once", async () => {
    const path = "/v2/range/blobs/sha256:concurrent";
    const file = origin.add(path, fileOfSixPieces());
    const ranges = [
      [PIECE + 5, 2 * PIECE - 6],
      [4 * PIECE, 4 * PIECE + 99_999],
    ] as const;
    const responses = await Promise.all(ranges.map(([start, end]) => get(peer, path, { range: `bytes=${start}-${end}` })));
    for (const [i, response] of responses.entries()) {
      const [start, end] = ranges[i]!;
      expect(response.status).toBe(206);
      expect(sha256(await bodyOf(response))).toBe(sha256(file.data.subarray(start, end + 1)));
    }
    await idle(peer);
    expect(origin.sent(path)).toBeLessThanOrEqual(2 * PIECE + 2 * STAT_SLACK);
  });

  test("a full GET that arrives while a ranged download runs gets every byte, and no piece is fetched twice", async () => {
    const path = "/v2/range/blobs/sha256:joined";
    const file = origin.add(path, fileOfSixPieces());
    // An earlier range leaves the task partial with one piece.
    const first = await get(peer, path, { range: `bytes=0-${PIECE - 1}` });
    expect(sha256(await bodyOf(first))).toBe(sha256(file.data.subarray(0, PIECE)));
    await idle(peer);
    expect(origin.sent(path)).toBeLessThanOrEqual(PIECE + STAT_SLACK);

    const release = origin.hold(path, 3 * PIECE);
    const ranged = get(peer, path, { range: `bytes=${3 * PIECE}-${3 * PIECE + 4095}` });
    await waitFor(() => origin.asked(path).some((r) => r.startsWith(`bytes=${3 * PIECE}-`)), "the ranged piece to be asked for");
    const whole = get(peer, path);
    // The full download fetches the other pieces while the ranged one is held back.
    await waitFor(() => origin.sent(path) >= file.data.length - PIECE, "the other pieces to arrive", 60_000);
    // The stored piece is not fetched again.
    expect(origin.asked(path).filter((r) => r === `bytes=0-${PIECE - 1}`)).toHaveLength(1);
    release();
    const [rangedResponse, wholeResponse] = await Promise.all([ranged, whole]);
    expect(rangedResponse.status).toBe(206);
    expect(sha256(await bodyOf(rangedResponse))).toBe(sha256(file.data.subarray(3 * PIECE, 3 * PIECE + 4096)));
    expect(wholeResponse.status).toBe(200);
    expect(sha256(await bodyOf(wholeResponse))).toBe(file.sha256);
    await idle(peer);
    expect(origin.asked(path).filter((r) => r.startsWith(`bytes=${3 * PIECE}-`))).toHaveLength(1);
    expect(origin.sent(path)).toBeLessThanOrEqual(file.data.length + 2 * STAT_SLACK);
  });

  test("with prefetch (proxy.prefetch or X-Dragonfly-Prefetch) the whole task follows the range; the header overrides", async () => {
    const byConfig = "/v2/range/blobs/sha256:prefetch-config";
    const byHeader = "/v2/range/blobs/sha256:prefetch-header";
    const refused = "/v2/range/blobs/sha256:prefetch-refused";
    const cases: { daemon: PeerDaemon; path: string; headers: Record<string, string>; whole: boolean; file: Blob }[] = [
      { daemon: prefetching, path: byConfig, headers: {}, whole: true, file: origin.add(byConfig, fileOfSixPieces()) },
      { daemon: peer, path: byHeader, headers: { "x-dragonfly-prefetch": "true" }, whole: true, file: origin.add(byHeader, fileOfSixPieces()) },
      { daemon: prefetching, path: refused, headers: { "x-dragonfly-prefetch": "false" }, whole: false, file: origin.add(refused, fileOfSixPieces()) },
    ];
    for (const { daemon, path, headers, file } of cases) {
      const response = await get(daemon, path, { ...headers, range: `bytes=${PIECE}-${PIECE + 9999}` });
      expect(response.status).toBe(206);
      expect(sha256(await bodyOf(response))).toBe(sha256(file.data.subarray(PIECE, PIECE + 10_000)));
    }
    await Promise.all([idle(peer), idle(prefetching)]);
    for (const { daemon, path, whole, file } of cases) {
      const size = file.data.length;
      if (whole) {
        expect(origin.sent(path)).toBeGreaterThanOrEqual(size);
        expect(origin.sent(path)).toBeLessThanOrEqual(size + 2 * STAT_SLACK);
        // The task is complete: a full GET is a local hit.
        const again = await get(daemon, path);
        expect(again.headers.get("x-dragonfly-task-download-finished")).toBe("true");
        expect(sha256(await bodyOf(again))).toBe(file.sha256);
        expect(origin.sent(path)).toBeLessThanOrEqual(size + 2 * STAT_SLACK);
      } else {
        expect(origin.sent(path)).toBeLessThanOrEqual(PIECE + STAT_SLACK);
      }
    }
  });
});

describe("ranged downloads over the daemon's socket", () => {
  test("Download.range fetches only its pieces and writes only its bytes to the output path", async () => {
    const path = "/v2/range/blobs/sha256:socket";
    const file = origin.add(path, fileOfSixPieces());
    const output = join(tempDir("libellula-range-output-"), "slice");
    const { client, close } = connectDaemon(peer.socket);
    try {
      const download = create(DownloadSchema, {
        url: origin.url(path),
        type: TaskType.STANDARD,
        range: { start: BigInt(PIECE - 100), length: 200n },
        outputPath: output,
      });
      const numbers: number[] = [];
      for await (const response of client.downloadTask({ download })) {
        if (response.response.case === "downloadTaskStartedResponse") {
          numbers.push(...response.response.value.pieces.map((p) => p.number));
        }
      }
      expect(numbers).toEqual([0, 1]);
      expect(sha256(readFileSync(output))).toBe(sha256(file.data.subarray(PIECE - 100, PIECE + 100)));
      await idle(peer);
      expect(origin.sent(path)).toBeLessThanOrEqual(2 * PIECE + STAT_SLACK);

      // With prefetch the rest of the task follows.
      const prefetch = create(DownloadSchema, {
        url: origin.url(path),
        type: TaskType.STANDARD,
        range: { start: 0n, length: 10n },
        prefetch: true,
      });
      for await (const _ of client.downloadTask({ download: prefetch })) void _;
      await idle(peer);
      expect(origin.sent(path)).toBeGreaterThanOrEqual(file.data.length);
      expect(origin.sent(path)).toBeLessThanOrEqual(file.data.length + 2 * STAT_SLACK);
    } finally {
      close();
    }
  });

  test("a range beyond the content is refused with a message naming the field", async () => {
    const path = "/v2/range/blobs/sha256:socket-bad";
    origin.add(path, blob(1000));
    const { client, close } = connectDaemon(peer.socket);
    try {
      const download = create(DownloadSchema, { url: origin.url(path), type: TaskType.STANDARD, range: { start: 5000n, length: 10n } });
      let error: unknown;
      try {
        for await (const _ of client.downloadTask({ download })) void _;
      } catch (caught) {
        error = caught;
      }
      expect(String(error)).toContain('field "range.start" is 5000, beyond the content (1000 bytes)');
    } finally {
      close();
    }
  });
});

describe("a peer that holds only a range, through the scheduler", () => {
  test("another peer downloading the whole task gets the range from it and the rest from the origin", async () => {
    const path = "/v2/range/blobs/sha256:two-peers";
    const file = origin.add(path, fileOfSixPieces());
    // Two pieces (more than 4 MiB): this range goes through the scheduler, which sends A to the origin.
    const ranged = await get(peerA, path, { range: `bytes=${PIECE}-${3 * PIECE - 1}` });
    expect(ranged.status).toBe(206);
    expect(sha256(await bodyOf(ranged))).toBe(sha256(file.data.subarray(PIECE, 3 * PIECE)));
    await idle(peerA);
    expect(origin.sent(path)).toBeLessThanOrEqual(2 * PIECE + STAT_SLACK);
    expect(await metric(peerA.metricsPort, "libellula_scheduler_responses_total", { type: "needBackToSourceResponse" })).toBeGreaterThanOrEqual(1);

    const whole = await get(peerB, path);
    expect(whole.status).toBe(200);
    expect(sha256(await bodyOf(whole))).toBe(file.sha256);
    await idle(peerB);
    // B took A's two pieces from A and only the other four from the origin.
    expect(await metric(peerB.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" })).toBe(2 * PIECE);
    expect(origin.sent(path)).toBeLessThanOrEqual(file.data.length + 2 * STAT_SLACK);
  });
});
