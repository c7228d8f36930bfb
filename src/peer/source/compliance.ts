/**
 * The compliance suite every back-to-source backend passes: size, whole and ranged reads, directory
 * listings, missing objects and cancellation, against a server that speaks the backend's protocol.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import type { Source, SourceEntry, SourceOptions, SourceRequest } from "./source.ts";

/** A running server holding the compliance files, and the backend under test. */
export interface ComplianceFixture {
  source: Source;
  /** The URL of a file ("model/weights.bin") or directory ("model/", with the slash) of the tree. */
  url(path: string): string;
  /** Backend options (credentials, revision, …) sent with every request. */
  options?: SourceOptions;
  header?: Record<string, string>;
  stop(): Promise<void>;
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The tree every fixture serves: a small model directory with a subdirectory. */
export const COMPLIANCE_FILES: Readonly<Record<string, Uint8Array>> = {
  "model/config.json": new TextEncoder().encode('{"architectures":["Tiny"],"hidden_size":8}\n'),
  "model/weights.bin": bytes(300 * 1024 + 7, 7),
  "model/sub/tokenizer.json": new TextEncoder().encode('{"vocab":{"a":0,"b":1}}\n'),
  "model/sub/deep/extra.bin": bytes(4096, 11),
};

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function sortEntries(entries: SourceEntry[]): SourceEntry[] {
  return [...entries].sort((a, b) => a.url.localeCompare(b.url));
}

/** Registers the compliance tests of a backend; `start` launches its server with COMPLIANCE_FILES. */
export function describeSourceCompliance(name: string, start: () => Promise<ComplianceFixture>): void {
  describe(`${name} backend compliance`, () => {
    let fixture: ComplianceFixture;
    const request = (url: string): SourceRequest => ({ url, header: { ...(fixture.header ?? {}) }, ...(fixture.options ?? {}) });

    beforeAll(async () => {
      fixture = await start();
    });
    afterAll(async () => {
      await fixture?.stop();
    });

    test("stat() reports the size of every file", async () => {
      for (const [path, data] of Object.entries(COMPLIANCE_FILES)) {
        const stat = await fixture.source.stat(request(fixture.url(path)));
        expect({ path, length: stat.contentLength }).toEqual({ path, length: data.length });
        expect(stat.statusCode).toBe(200);
      }
    });

    test("get() without a range returns every byte", async () => {
      const data = COMPLIANCE_FILES["model/weights.bin"]!;
      const result = await fixture.source.get(request(fixture.url("model/weights.bin")));
      expect(Buffer.from(await readAll(result.body)).equals(Buffer.from(data))).toBe(true);
    });

    test("get() with a range returns exactly those bytes", async () => {
      const data = COMPLIANCE_FILES["model/weights.bin"]!;
      for (const range of [{ start: 0, length: 1 }, { start: 65_537, length: 100_000 }, { start: data.length - 5, length: 5 }]) {
        const result = await fixture.source.get({ ...request(fixture.url("model/weights.bin")), range });
        const got = await readAll(result.body);
        expect(got.length).toBe(range.length);
        expect(Buffer.from(got).equals(Buffer.from(data.subarray(range.start, range.start + range.length)))).toBe(true);
      }
    });

    test("list() returns the files and subdirectories of a directory", async () => {
      expect(fixture.source.list).toBeDefined();
      const entries = sortEntries(await fixture.source.list!(request(fixture.url("model/"))));
      expect(entries).toEqual(
        sortEntries([
          { url: fixture.url("model/config.json"), contentLength: COMPLIANCE_FILES["model/config.json"]!.length, isDir: false },
          { url: fixture.url("model/weights.bin"), contentLength: COMPLIANCE_FILES["model/weights.bin"]!.length, isDir: false },
          { url: fixture.url("model/sub/"), contentLength: 0, isDir: true },
        ]),
      );
      const nested = sortEntries(await fixture.source.list!(request(fixture.url("model/sub/"))));
      expect(nested).toEqual(
        sortEntries([
          { url: fixture.url("model/sub/deep/"), contentLength: 0, isDir: true },
          { url: fixture.url("model/sub/tokenizer.json"), contentLength: COMPLIANCE_FILES["model/sub/tokenizer.json"]!.length, isDir: false },
        ]),
      );
    });

    test("a listed file URL can be read", async () => {
      const entries = await fixture.source.list!(request(fixture.url("model/sub/")));
      const file = entries.find((e) => !e.isDir)!;
      const result = await fixture.source.get(request(file.url));
      expect(await new Response(result.body).text()).toBe(new TextDecoder().decode(COMPLIANCE_FILES["model/sub/tokenizer.json"]));
    });

    test("a missing object is a SourceError with status 404 naming it", async () => {
      const url = fixture.url("model/missing.bin");
      for (const attempt of [() => fixture.source.stat(request(url)), () => fixture.source.get({ ...request(url), range: { start: 0, length: 10 } })]) {
        const error = await attempt().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(SourceError);
        expect((error as SourceError).statusCode).toBe(404);
        expect((error as SourceError).message).toContain("missing.bin");
      }
    });

    test("an aborted request rejects", async () => {
      const controller = new AbortController();
      controller.abort();
      const error = await fixture.source
        .get({ ...request(fixture.url("model/weights.bin")), signal: controller.signal })
        .then(async (result) => {
          await readAll(result.body);
          return undefined;
        }, (e: unknown) => e);
      expect(error).toBeDefined();
    });
  });
}
