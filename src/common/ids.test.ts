import { describe, expect, test } from "bun:test";
import { filterUrl, sha256Hex, taskId } from "./ids.ts";

describe("taskId()", () => {
  test("matches Dragonfly's vector for url, tag and application", () => {
    expect(taskId({ url: "https://example.com", tag: "foo", application: "bar", filteredQueryParams: [] })).toBe(
      "06408fbf247ddaca478f8cb9565fe5591c28efd0994b8fea80a6a87d3203c5ca",
    );
  });
  test("matches Dragonfly's vector with revision and piece length", () => {
    expect(
      taskId({
        url: "https://example.com",
        tag: "foo",
        application: "bar",
        revision: "v1.0",
        pieceLength: 1024,
        filteredQueryParams: [],
      }),
    ).toBe("5844f27a257287e9b734256bb25603d8005422ced8c0377f15063ec11963b25f");
  });
  test("matches Dragonfly's vector with piece length only", () => {
    expect(taskId({ url: "https://example.com", pieceLength: 1024, filteredQueryParams: [] })).toBe(
      "9f7c9aafbc6f30f8f41a96ca77eeae80c5b60964b3034b0ee43ccf7b2f9e52b8",
    );
  });
  test("matches Dragonfly's vector with filtered query params", () => {
    expect(taskId({ url: "https://example.com?foo=foo&bar=bar", filteredQueryParams: ["foo", "bar"] })).toBe(
      "457b4328cde278e422c9e243f7bfd1e97f511fec43a80f535cf6b0ef6b086776",
    );
  });
  test("matches Dragonfly's vector for content-based IDs", () => {
    expect(taskId({ url: "https://x", contentForCalculatingTaskId: "This is a test file" })).toBe(
      "e2d0fe1585a63ec6009c8016ff8dda8b17719a637405a4e23c0ff81339148249",
    );
  });
  test("presigned signatures do not change the ID", () => {
    const a = taskId({ url: "https://b.s3/k?X-Amz-Signature=aaa&X-Amz-Date=1&v=2" });
    const b = taskId({ url: "https://b.s3/k?X-Amz-Signature=bbb&X-Amz-Date=2&v=2" });
    expect(a).toBe(b);
    expect(a).not.toBe(taskId({ url: "https://b.s3/k?v=3" }));
  });
  test("uses the blob digest when asked to", () => {
    const hex = "a".repeat(64);
    expect(
      taskId({ url: `https://r/v2/lib/x/blobs/sha256:${hex}`, enableTaskIdBasedBlobDigest: true }),
    ).toBe(hex);
  });
});

describe("filterUrl()", () => {
  test("keeps query order and trims the bare-host slash", () => {
    expect(filterUrl("https://example.com/", [])).toBe("https://example.com");
    expect(filterUrl("https://h/p?b=1&a=2&c=3", ["a"])).toBe("https://h/p?b=1&c=3");
    expect(filterUrl("https://h/p/", [])).toBe("https://h/p/");
  });
  test("rejects an unparsable URL with its text in the message", () => {
    expect(() => filterUrl("not a url", [])).toThrow('Invalid URL "not a url"');
  });
});

test("sha256Hex() hashes strings", () => {
  expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});
