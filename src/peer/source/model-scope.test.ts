import { expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import { startModelScopeHub } from "../../../test/helpers/hub-servers.ts";
import { COMPLIANCE_FILES, describeSourceCompliance } from "./compliance.ts";
import { createModelScopeSource, fileUrl } from "./model-scope.ts";

const source = createModelScopeSource();
const TOKEN = "ms-token-0123456789";

describeSourceCompliance("modelscope", async () => {
  const hub = startModelScopeHub({ token: TOKEN });
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) hub.add("acme/tiny", path, data, "v1.0");
  return {
    source,
    url: (path) => `modelscope://acme/tiny/${path}`,
    options: { modelScope: { token: TOKEN, revision: "v1.0", baseUrl: hub.baseUrl } },
    stop: () => hub.stop(),
  };
});

describeSourceCompliance("modelscope datasets", async () => {
  const hub = startModelScopeHub();
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) hub.add("datasets/acme/corpus", path, data);
  return { source, url: (path) => `modelscope://datasets/acme/corpus/${path}`, options: { modelScope: { baseUrl: hub.baseUrl } }, stop: () => hub.stop() };
});

test("fileUrl() uses the repo endpoint with Revision and FilePath", () => {
  expect(fileUrl("modelscope://qwen/Qwen2-0.5B/config.json")).toBe(
    "https://modelscope.cn/api/v1/models/qwen/Qwen2-0.5B/repo?Revision=master&FilePath=config.json",
  );
  expect(fileUrl("modelscope://datasets/acme/c/a/b.txt", "http://h", "v1")).toBe("http://h/api/v1/datasets/acme/c/repo?Revision=v1&FilePath=a%2Fb.txt");
});

test("a large file redirected to object storage is read there, without the token", async () => {
  await using hub = startModelScopeHub({ token: TOKEN });
  const data = COMPLIANCE_FILES["model/weights.bin"]!;
  hub.add("acme/tiny", "w.bin", data);
  const request = { url: "modelscope://acme/tiny/w.bin", header: {}, modelScope: { token: TOKEN, baseUrl: hub.baseUrl, revision: "master" } };
  const got = await new Response((await source.get({ ...request, range: { start: 5, length: 50 } })).body).arrayBuffer();
  expect(Buffer.from(got).equals(Buffer.from(data.subarray(5, 55)))).toBe(true);
  expect(hub.storeAuthorizations()).toBe(0);
});

test("a missing repository is an error naming the file and the hub's message", async () => {
  await using hub = startModelScopeHub();
  const error = await source.stat({ url: "modelscope://acme/none/a.bin", header: {}, modelScope: { baseUrl: hub.baseUrl } }).catch((e: unknown) => e as SourceError);
  expect((error as SourceError).statusCode).toBe(404);
  expect((error as SourceError).message).toBe('Cannot stat "modelscope://acme/none/a.bin" (revision "master"): 404 Not Found: model acme/none not exists');
});
