import { expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import { startWebHdfs } from "../../../test/helpers/webhdfs.ts";
import { COMPLIANCE_FILES, describeSourceCompliance } from "./compliance.ts";
import { createHdfsSource, webHdfsUrl } from "./hdfs.ts";

const source = createHdfsSource();
const TOKEN = "KAAHaGRmcwBkZWxlZ2F0aW9uLXRva2Vu";

describeSourceCompliance("hdfs", async () => {
  const server = startWebHdfs({ delegationToken: TOKEN });
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) server.add(path, data);
  return { source, url: (path) => server.url(path), options: { hdfs: { delegationToken: TOKEN } }, stop: () => server.stop() };
});

test("webHdfsUrl() maps hdfs:// to the namenode's REST path, default port 9870", () => {
  expect(webHdfsUrl("hdfs://nn/data/a.bin", "OPEN", { offset: 4, length: 2 })).toBe("http://nn:9870/webhdfs/v1/data/a.bin?op=OPEN&offset=4&length=2");
  expect(webHdfsUrl("hdfs://nn:50070/x", "GETFILESTATUS", {}, "tok")).toBe("http://nn:50070/webhdfs/v1/x?op=GETFILESTATUS&delegation=tok");
});

test("reads go to the datanode the namenode redirects to, with offset and length", async () => {
  await using server = startWebHdfs();
  const data = COMPLIANCE_FILES["model/weights.bin"]!;
  server.add("d/w.bin", data);
  const result = await source.get({ url: server.url("d/w.bin"), header: {}, range: { start: 1000, length: 5000 } });
  expect((await new Response(result.body).arrayBuffer()).byteLength).toBe(5000);
  expect(server.sent("d/w.bin")).toBe(5000);
  const open = server.queries().find((q) => q.get("op") === "OPEN")!;
  expect([open.get("offset"), open.get("length")]).toEqual(["1000", "5000"]);
});

test("a wrong delegation token is denied with the namenode's reason and without the token", async () => {
  await using server = startWebHdfs({ delegationToken: TOKEN });
  server.add("d/a.bin", new Uint8Array(10));
  const wrong = "WRONGTOKENVALUE123";
  const error = await source.stat({ url: server.url("d/a.bin"), header: {}, hdfs: { delegationToken: wrong } }).catch((e: unknown) => e as SourceError);
  expect(error).toBeInstanceOf(SourceError);
  expect((error as SourceError).statusCode).toBe(403);
  expect((error as SourceError).message).toBe(`Cannot stat "${server.url("d/a.bin")}": 403 SecretManager$InvalidToken: token is expired or doesn't exist`);
  expect((error as SourceError).message).not.toContain(wrong);
});

test("a directory is not a file to stat", async () => {
  await using server = startWebHdfs();
  server.add("d/a.bin", new Uint8Array(10));
  const error = await source.stat({ url: server.url("d"), header: {} }).catch((e: unknown) => e as SourceError);
  expect((error as SourceError).message).toContain('not a file (type "DIRECTORY")');
});
