import { expect, test } from "bun:test";
import { redactUrl, scrubSecrets, secretsOf, SourceRegistry, sourceOptionsOf } from "./source.ts";
import { createHttpSource } from "./http.ts";

test("redactUrl() hides signatures, tokens and passwords and keeps the rest", () => {
  expect(redactUrl("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&part=2")).toBe(
    "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Signature=***&part=2",
  );
  expect(redactUrl("http://user:pass@h/webhdfs/v1/x?op=OPEN&delegation=tok")).toBe("http://user:***@h/webhdfs/v1/x?op=OPEN&delegation=***");
  expect(redactUrl("hf://acme/tiny/a.bin")).toBe("hf://acme/tiny/a.bin");
});

test("scrubSecrets() replaces secrets, raw and percent-encoded", () => {
  expect(scrubSecrets("key a/b+c=, url a%2Fb%2Bc%3D", ["a/b+c="])).toBe("key ***, url ***");
  expect(scrubSecrets("short ab", ["ab"])).toBe("short ab");
});

test("secretsOf() collects credentials of the options and auth headers", () => {
  const secrets = secretsOf({
    objectStorage: { accessKeyId: "id", accessKeySecret: "sec1", sessionToken: "sess" },
    hdfs: { delegationToken: "deleg" },
    huggingFace: { token: "hf_x" },
    header: { Authorization: "Bearer tok123", Accept: "x" },
  });
  expect(secrets).toEqual(["sec1", "sess", "deleg", "hf_x", "Bearer tok123", "tok123"]);
});

test("sourceOptionsOf() keeps only the backend options", () => {
  expect(sourceOptionsOf({ hdfs: { delegationToken: "t" }, url: "x" } as never)).toEqual({ hdfs: { delegationToken: "t" } });
});

test("the registry picks a backend by scheme and names an unsupported one", () => {
  const http = createHttpSource();
  const registry = new SourceRegistry().register(["http"], http);
  expect(registry.for("http://h/x")).toBe(http);
  expect(() => registry.for("ftp://h/x")).toThrow('Invalid URL "ftp://h/x": unsupported scheme "ftp"');
});
