import { expect, test } from "bun:test";
import { globToRegExp, relativeEntryPath } from "./dfget-recursive.ts";
import { sourceOptionsFromFlags } from "./source-flags.ts";
import { parseArgs } from "../common/config.ts";

test("globToRegExp() matches relative paths as shells do", () => {
  const match = (glob: string, path: string) => globToRegExp(glob).test(path);
  expect(match("*.json", "config.json")).toBe(true);
  expect(match("*.json", "sub/config.json")).toBe(false);
  expect(match("**/*.json", "config.json")).toBe(true);
  expect(match("**/*.json", "a/b/config.json")).toBe(true);
  expect(match("model-0000?-of-*.safetensors", "model-00001-of-00002.safetensors")).toBe(true);
  expect(match("*.{bin,pt}", "w.pt")).toBe(true);
  expect(match("[!a]*", "abc")).toBe(false);
  expect(match("a.b", "axb")).toBe(false);
});

test("relativeEntryPath() decodes entries under the directory and rejects escapes", () => {
  expect(relativeEntryPath("s3://b/dir/", "s3://b/dir/sub/a%20b.bin")).toBe("sub/a b.bin");
  expect(relativeEntryPath("s3://b/dir/", "s3://b/other/a.bin")).toBeUndefined();
  expect(relativeEntryPath("s3://b/dir/", "s3://b/dir/../x")).toBeUndefined();
  expect(relativeEntryPath("s3://b/dir/", "s3://b/dir/%2E%2E/x")).toBeUndefined();
  expect(relativeEntryPath("s3://b/dir/", "s3://b/dir/a%2Fb")).toBeUndefined();
});

test("backend flags fill only the options of the URL's scheme, with dfget's defaults", () => {
  const args = parseArgs(["--storage-region", "eu", "--hf-token", "t", "--ms-revision", "v1"]);
  expect(sourceOptionsFromFlags(args, "s3://b/k").objectStorage).toMatchObject({ region: "eu", predefinedAcl: "publicRead", insecureSkipVerify: false });
  expect(sourceOptionsFromFlags(args, "hf://a/b/c")).toEqual({ huggingFace: expect.objectContaining({ revision: "main", token: "t" }) });
  expect(sourceOptionsFromFlags(args, "modelscope://a/b/c").modelScope).toMatchObject({ revision: "v1" });
  expect(sourceOptionsFromFlags(args, "https://h/x")).toEqual({});
});
