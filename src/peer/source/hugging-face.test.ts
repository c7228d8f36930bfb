import { expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import { startHuggingFaceHub } from "../../../test/helpers/hub-servers.ts";
import { COMPLIANCE_FILES, describeSourceCompliance } from "./compliance.ts";
import { createHuggingFaceSource, parseHuggingFaceUrl, resolveUrl } from "./hugging-face.ts";

const source = createHuggingFaceSource();
const TOKEN = "hf_testtoken0123456789abcdef";

describeSourceCompliance("hf", async () => {
  // A page size of 2 makes every listing of the suite span pages.
  const hub = startHuggingFaceHub({ token: TOKEN, pageSize: 2 });
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) hub.add("acme/tiny", path, data, "v1");
  return {
    source,
    url: (path) => `hf://acme/tiny/${path}`,
    options: { huggingFace: { token: TOKEN, revision: "v1", baseUrl: hub.baseUrl } },
    stop: () => hub.stop(),
  };
});

test("hf:// URLs name the repository type, owner, repository and path", () => {
  expect(parseHuggingFaceUrl("hf://datasets/acme/data/train/a.parquet")).toMatchObject({ type: "datasets", owner: "acme", repo: "data", path: "train/a.parquet" });
  expect(parseHuggingFaceUrl("hf://acme/tiny")).toMatchObject({ type: "models", owner: "acme", repo: "tiny", path: "" });
  expect(resolveUrl("hf://acme/tiny/a b.bin", "https://hub.example", "refs/pr/1")).toBe("https://hub.example/acme/tiny/resolve/refs%2Fpr%2F1/a%20b.bin");
  expect(resolveUrl("hf://spaces/acme/demo/app.py")).toBe("https://huggingface.co/spaces/acme/demo/resolve/main/app.py");
  expect(() => parseHuggingFaceUrl("hf://acme")).toThrow('expected "hf://[models|datasets|spaces/]<owner>/<repo>[/<path>]"');
});

test("an LFS file is read from the store it redirects to, which never sees the token", async () => {
  await using hub = startHuggingFaceHub({ token: TOKEN });
  const data = COMPLIANCE_FILES["model/weights.bin"]!;
  hub.add("acme/tiny", "w.bin", data);
  const request = { url: "hf://acme/tiny/w.bin", header: {}, huggingFace: { token: TOKEN, baseUrl: hub.baseUrl, revision: "main" } };
  expect((await source.stat(request)).contentLength).toBe(data.length);
  const got = await new Response((await source.get({ ...request, range: { start: 10, length: 1000 } })).body).arrayBuffer();
  expect(Buffer.from(got).equals(Buffer.from(data.subarray(10, 1010)))).toBe(true);
  expect(hub.sent("acme/tiny", "w.bin")).toBe(1 + 1000);
  expect(hub.storeAuthorizations()).toBe(0);
});

test("revisions are distinct: a file missing at a revision is a 404 naming the revision", async () => {
  await using hub = startHuggingFaceHub();
  hub.add("acme/tiny", "a.txt", new TextEncoder().encode("v2 only"), "v2");
  hub.add("acme/tiny", "b.txt", new TextEncoder().encode("main"), "main");
  const ok = await source.get({ url: "hf://acme/tiny/a.txt", header: {}, huggingFace: { baseUrl: hub.baseUrl, revision: "v2" } });
  expect(await new Response(ok.body).text()).toBe("v2 only");
  const error = await source.stat({ url: "hf://acme/tiny/a.txt", header: {}, huggingFace: { baseUrl: hub.baseUrl, revision: "main" } }).catch((e: unknown) => e as SourceError);
  expect((error as SourceError).statusCode).toBe(404);
  expect((error as SourceError).message).toBe('Cannot stat "hf://acme/tiny/a.txt" (revision "main"): 404 Not Found EntryNotFound: Entry not found');
});

test("a bad token is a 401 whose message has no token", async () => {
  await using hub = startHuggingFaceHub({ token: TOKEN });
  hub.add("acme/tiny", "a.txt", new Uint8Array(3));
  const bad = "hf_wrongtoken_abcdef123";
  const error = await source.stat({ url: "hf://acme/tiny/a.txt", header: {}, huggingFace: { baseUrl: hub.baseUrl, token: bad, revision: "main" } }).catch((e: unknown) => e as SourceError);
  expect((error as SourceError).statusCode).toBe(401);
  expect((error as SourceError).message).toContain("Invalid credentials in Authorization header");
  expect((error as SourceError).message).not.toContain(bad);
});

test("datasets are resolved under /datasets and listed under /api/datasets", async () => {
  await using hub = startHuggingFaceHub();
  hub.add("datasets/acme/corpus", "train/part-0.txt", new TextEncoder().encode("rows"));
  const entries = await source.list!({ url: "hf://datasets/acme/corpus/train/", header: {}, huggingFace: { baseUrl: hub.baseUrl } });
  expect(entries).toEqual([{ url: "hf://datasets/acme/corpus/train/part-0.txt", contentLength: 4, isDir: false }]);
  const body = await source.get({ url: entries[0]!.url, header: {}, huggingFace: { baseUrl: hub.baseUrl } });
  expect(await new Response(body.body).text()).toBe("rows");
});
