import { describe, expect, test } from "bun:test";
import { InvalidArgument } from "../../../common/errors.ts";
import {
  decodeDownloadPieceValue,
  decodeErrorValue,
  decodeHeader,
  decodePieceMetadata,
  encodeCloseFrame,
  encodeErrorFrame,
  encodeHeader,
  encodePieceContentHead,
  encodePieceMetadata,
  encodePieceRequest,
  PieceRequestParser,
  PieceResponseParser,
  type PieceMetadata,
  type ResponseEvent,
} from "./codec.ts";

const TASK_ID = "0123456789abcdef".repeat(4);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

const METADATA: PieceMetadata = {
  number: 3,
  offset: 3 * 4 * 1024 * 1024,
  length: 4 * 1024 * 1024,
  digest: "crc32:1",
  parentId: "p",
  trafficType: 1,
  costSeconds: 2,
  createdAtSeconds: 1_700_000_000,
};

// Computed by hand from the layout: header, metadata_length 53, number, offset, length, digest, parent, type, cost, created_at.
const METADATA_FRAME_HEX = `
  ab 01 00000039
  00000035
  00000003
  0000000000c00000
  0000000000400000
  00000007 6372633332 3a31
  00000001 70
  01
  0000000000000002
  000000006553f100`;

describe("Vortex codec", () => {
  test("a header is packet_id, tag and a big-endian u32 length", () => {
    expect(hex(encodeHeader(1, 0x01020304, 0x7f))).toBe("7f0101020304");
    expect(decodeHeader(fromHex("7f0101020304"))).toEqual({ packetId: 0x7f, tag: 1, length: 0x01020304 });
  });

  test("packet IDs are drawn at random when not given", () => {
    const ids = new Set(Array.from({ length: 200 }, () => encodeHeader(0, 0)[0]));
    expect(ids.size).toBeGreaterThan(50);
  });

  test("a DownloadPiece frame is 74 bytes: header, 64-byte task ID, u32 BE number", () => {
    const frame = encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 258 }, 0xab);
    expect(frame.length).toBe(74);
    expect(hex(frame)).toBe(`ab0000000044${Buffer.from(TASK_ID).toString("hex")}00000102`);
    expect(decodeDownloadPieceValue(frame.subarray(6))).toEqual({ taskId: TASK_ID, number: 258 });
  });

  test("persistent and persistent cache requests use tags 2 and 4", () => {
    expect(encodePieceRequest({ kind: "persistent", taskId: TASK_ID, number: 0 })[1]).toBe(2);
    expect(encodePieceRequest({ kind: "persistentCache", taskId: TASK_ID, number: 0 })[1]).toBe(4);
  });

  test("PieceContent metadata matches the hand-computed bytes and the header counts only the metadata", () => {
    const head = encodePieceContentHead("standard", METADATA, 0xab);
    expect(hex(head)).toBe(METADATA_FRAME_HEX.replace(/\s+/g, ""));
    expect(decodeHeader(head).length).toBe(head.length - 6);
    expect(decodePieceMetadata(head.subarray(6))).toEqual(METADATA);
  });

  test("metadata round-trips large offsets, UTF-8 text and negative created_at", () => {
    const metadata: PieceMetadata = {
      ...METADATA,
      number: 0xffffffff,
      offset: Number.MAX_SAFE_INTEGER,
      length: 64 * 1024 * 1024,
      parentId: "10.0.0.2-höst-1",
      costSeconds: 0,
      createdAtSeconds: -5,
    };
    expect(decodePieceMetadata(encodePieceMetadata(metadata))).toEqual(metadata);
    expect(encodePieceContentHead("persistentCache", metadata)[1]).toBe(5);
  });

  test("an Error frame is code u8 and a UTF-8 message", () => {
    const frame = encodeErrorFrame(2, "nope", 0xab);
    expect(hex(frame)).toBe("abff00000005026e6f7065");
    expect(decodeErrorValue(frame.subarray(6))).toEqual({ code: 2, message: "nope" });
  });

  test("a Close frame is tag 254 with an empty value", () => {
    expect(hex(encodeCloseFrame(1))).toBe("01fe00000000");
  });

  test("encoding rejects values the wire cannot carry", () => {
    expect(() => encodePieceRequest({ kind: "standard", taskId: "short", number: 1 })).toThrow(/task ID "short"/);
    expect(() => encodePieceRequest({ kind: "standard", taskId: "../".repeat(21) + "a", number: 1 })).toThrow(InvalidArgument);
    expect(() => encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 2 ** 32 })).toThrow(/piece number/);
    expect(() => encodePieceMetadata({ ...METADATA, offset: -1 })).toThrow(/piece offset -1/);
    expect(() => encodeHeader(256, 0)).toThrow(/tag 256/);
  });
});

describe("Vortex codec rejects malformed input", () => {
  test("unknown tags", () => {
    expect(() => decodeHeader(fromHex("000900000000"))).toThrow("Invalid Vortex frame: unknown tag 9");
  });

  test("a short header", () => {
    expect(() => decodeHeader(fromHex("0000"))).toThrow(/header needs 6 bytes, got 2/);
  });

  test("a DownloadPiece value of the wrong size or with a task ID that is not hex", () => {
    expect(() => decodeDownloadPieceValue(new Uint8Array(67))).toThrow(/must be 68 bytes, got 67/);
    const value = encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 1 }).subarray(6).slice();
    value[0] = "/".charCodeAt(0);
    expect(() => decodeDownloadPieceValue(value)).toThrow(/not 64 lowercase hex/);
  });

  test("metadata whose lengths disagree", () => {
    const value = encodePieceMetadata(METADATA);
    expect(() => decodePieceMetadata(value.subarray(0, value.length - 1))).toThrow(/metadata_length 53 does not match the 52/);
    const longDigest = value.slice();
    new DataView(longDigest.buffer).setUint32(24, 1000);
    expect(() => decodePieceMetadata(longDigest)).toThrow(/digest length 1000 overruns/);
    const shortParent = value.slice();
    new DataView(shortParent.buffer).setUint32(35, 0);
    expect(() => decodePieceMetadata(shortParent)).toThrow(/parent ID length 0 does not fit/);
    expect(() => decodePieceMetadata(new Uint8Array(10))).toThrow(/at least 49 bytes/);
  });

  test("metadata with invalid UTF-8 or an offset past 2^53", () => {
    const value = encodePieceMetadata(METADATA);
    const badText = value.slice();
    badText[28] = 0xff;
    expect(() => decodePieceMetadata(badText)).toThrow(/digest is not valid UTF-8/);
    const huge = value.slice();
    new DataView(huge.buffer).setBigUint64(8, 2n ** 60n);
    expect(() => decodePieceMetadata(huge)).toThrow(/piece offset 1152921504606846976/);
  });

  test("an empty error value", () => {
    expect(() => decodeErrorValue(new Uint8Array(0))).toThrow(/error value is empty/);
  });
});

describe("PieceRequestParser", () => {
  test("parses a request fed one byte at a time", () => {
    const frame = encodePieceRequest({ kind: "persistent", taskId: TASK_ID, number: 7 });
    const parser = new PieceRequestParser();
    for (let i = 0; i < frame.length - 1; i++) expect(parser.push(frame.subarray(i, i + 1))).toBeUndefined();
    expect(parser.push(frame.subarray(frame.length - 1))).toEqual({ kind: "persistent", taskId: TASK_ID, number: 7 });
  });

  test("rejects a wrong length as soon as the header is in, before any value", () => {
    expect(() => new PieceRequestParser().push(fromHex("000000000045"))).toThrow(
      "Invalid Vortex frame: download piece length must be 68, got 69",
    );
  });

  test("rejects response tags, cache pieces and trailing bytes", () => {
    expect(() => new PieceRequestParser().push(fromHex("000100000044"))).toThrow(/unexpected tag 1/);
    expect(() => new PieceRequestParser().push(fromHex("000600000044"))).toThrow(/unsupported tag 6/);
    const frame = encodePieceRequest({ kind: "standard", taskId: TASK_ID, number: 1 });
    const extra = new Uint8Array(frame.length + 1);
    extra.set(frame);
    expect(() => new PieceRequestParser().push(extra)).toThrow(/1 unexpected bytes after the request/);
  });

  test("returns close for a Close frame", () => {
    expect(new PieceRequestParser().push(encodeCloseFrame())).toBe("close");
  });
});

describe("PieceResponseParser", () => {
  const content = new Uint8Array(1000).map((_, i) => i * 7);
  const metadata = { ...METADATA, length: content.length };
  const stream = () => {
    const head = encodePieceContentHead("standard", metadata);
    const all = new Uint8Array(head.length + content.length);
    all.set(head);
    all.set(content, head.length);
    return all;
  };
  const collect = (events: ResponseEvent[]) => {
    const out = { metadata: undefined as PieceMetadata | undefined, bytes: [] as number[], end: 0 };
    for (const event of events) {
      if (event.type === "metadata") out.metadata = event.metadata;
      if (event.type === "content") out.bytes.push(...event.bytes);
      if (event.type === "end") out.end++;
    }
    return out;
  };

  test("yields metadata, the raw bytes and one end whether fed whole or byte by byte", () => {
    const whole = collect(new PieceResponseParser().push(stream()));
    expect(whole.metadata).toEqual(metadata);
    expect(whole.bytes).toEqual([...content]);
    expect(whole.end).toBe(1);
    const parser = new PieceResponseParser();
    const events: ResponseEvent[] = [];
    const all = stream();
    for (let i = 0; i < all.length; i++) events.push(...parser.push(all.subarray(i, i + 1)));
    expect(collect(events)).toEqual(whole);
    expect(parser.done).toBe(true);
  });

  test("content chunks are views of the input, not copies", () => {
    const parser = new PieceResponseParser();
    const all = stream();
    const head = all.length - content.length;
    parser.push(all.subarray(0, head));
    const chunk = all.subarray(head);
    const [event] = parser.push(chunk);
    expect(event?.type === "content" && event.bytes).toBe(chunk);
  });

  test("yields an error frame", () => {
    expect(new PieceResponseParser().push(encodeErrorFrame(3, "disk on fire"))).toEqual([
      { type: "error", error: { code: 3, message: "disk on fire" } },
    ]);
  });

  test("rejects a content tag of another kind, garbage and bytes after the piece", () => {
    expect(() => new PieceResponseParser("persistent").push(stream())).toThrow(/unexpected tag 1, expected 3/);
    expect(() => new PieceResponseParser().push(fromHex("00c800000000"))).toThrow(/unknown tag 200/);
    const extra = new Uint8Array(stream().length + 3);
    extra.set(stream());
    expect(() => new PieceResponseParser().push(extra)).toThrow(/3 unexpected bytes after the response/);
  });

  test("rejects a header length that disagrees with metadata_length", () => {
    const head = encodePieceContentHead("standard", metadata);
    new DataView(head.buffer).setUint32(2, head.length - 6 + 1);
    expect(() => new PieceResponseParser().push(head)).not.toThrow();
    const parser = new PieceResponseParser();
    parser.push(head);
    expect(() => parser.push(new Uint8Array([0]))).toThrow(/metadata_length 53 does not match the 54/);
  });
});
