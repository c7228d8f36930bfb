import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import { taskId } from "../../common/ids.ts";
import { startS3Server, type S3Server } from "../../../test/helpers/s3-server.ts";
import { COMPLIANCE_FILES, describeSourceCompliance } from "./compliance.ts";
import { createHttpSource } from "./http.ts";
import { createObjectStorageSource, parseObjectUrl } from "./object-storage.ts";
import type { ObjectStorageOptions } from "./source.ts";

const source = createObjectStorageSource();

async function startWithFiles(region = "eu-west-3"): Promise<S3Server> {
  const server = await startS3Server({ buckets: ["models"], region });
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) await server.client.write(path, data, { bucket: "models" });
  return server;
}

function credentials(server: S3Server, extra: ObjectStorageOptions = {}): ObjectStorageOptions {
  return { endpoint: server.endpoint, region: server.region, accessKeyId: server.accessKeyId, accessKeySecret: server.secretAccessKey, ...extra };
}

describeSourceCompliance("s3", async () => {
  const server = await startWithFiles();
  return { source, url: (path) => `s3://models/${path}`, options: { objectStorage: credentials(server) }, stop: () => server.stop() };
});

test("parseObjectUrl() splits bucket and decoded key", () => {
  expect(parseObjectUrl("s3://bucket/a%20b/c.bin")).toEqual({ scheme: "s3", bucket: "bucket", key: "a b/c.bin" });
  expect(parseObjectUrl("gs://bucket")).toEqual({ scheme: "gs", bucket: "bucket", key: "" });
});

describe("s3 backend against an S3 server that checks signatures", () => {
  let server: S3Server;
  const MIB = 1024 * 1024;
  const big = new Uint8Array(13 * MIB).map((_, i) => (i * 31) % 251);

  beforeAll(async () => {
    server = await startWithFiles();
    // A multipart upload (5 MiB parts).
    const writer = server.client.file("multi/big.bin", { bucket: "models" }).writer({ partSize: 5 * MIB });
    writer.write(big);
    await writer.end();
  });
  afterAll(() => server?.stop());

  test("a multipart object is read whole and by ranges across part boundaries", async () => {
    const request = { url: "s3://models/multi/big.bin", header: {}, objectStorage: credentials(server) };
    expect((await source.stat(request)).contentLength).toBe(big.length);
    const range = { start: 5 * MIB - 10, length: 20 };
    const got = new Uint8Array(await new Response((await source.get({ ...request, range })).body).arrayBuffer());
    expect(Buffer.from(got).equals(Buffer.from(big.subarray(range.start, range.start + range.length)))).toBe(true);
  });

  test("an unknown access key is a clear 403 without the secret", async () => {
    const secret = "super-secret-value-0001";
    const error = await source
      .stat({ url: "s3://models/model/config.json", header: {}, objectStorage: credentials(server, { accessKeyId: "NOSUCHKEY", accessKeySecret: secret }) })
      .catch((e: unknown) => e as SourceError);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).statusCode).toBe(403);
    expect((error as SourceError).message).toBe(
      'Cannot stat "s3://models/model/config.json": 403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
    );
    expect((error as SourceError).message).not.toContain(secret);
  });

  test("a wrong secret is refused as a signature mismatch", async () => {
    const error = await source
      .get({ url: "s3://models/model/config.json", header: {}, objectStorage: credentials(server, { accessKeySecret: "wrong-secret-123" }) })
      .catch((e: unknown) => e as SourceError);
    expect((error as SourceError).statusCode).toBe(403);
    expect((error as SourceError).message).toContain("SignatureDoesNotMatch");
    expect((error as SourceError).message).not.toContain("wrong-secret-123");
  });

  test("a wrong region names the bucket's region", async () => {
    const error = await source
      .get({ url: "s3://models/model/config.json", header: {}, objectStorage: credentials(server, { region: "us-west-2" }) })
      .catch((e: unknown) => e as SourceError);
    expect((error as SourceError).statusCode).toBe(400);
    expect((error as SourceError).message).toContain("the region 'us-west-2' is wrong; expecting 'eu-west-3'");
  });

  test("a listing with bad credentials fails with the store's reason", async () => {
    const error = await source
      .list!({ url: "s3://models/model/", header: {}, objectStorage: credentials(server, { accessKeyId: "NOSUCHKEY" }) })
      .catch((e: unknown) => e as SourceError);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).message).toContain('Cannot list "s3://models/model/"');
    expect((error as SourceError).message).toContain("InvalidAccessKeyId");
  });

  test("a missing bucket is a 404", async () => {
    const error = await source
      .stat({ url: "s3://nobucket/x.bin", header: {}, objectStorage: credentials(server) })
      .catch((e: unknown) => e as SourceError);
    expect((error as SourceError).statusCode).toBe(404);
    expect((error as SourceError).message).toContain("NoSuchBucket");
  });

  test("presigned URLs are read by the http backend and share one task ID whatever the signature", async () => {
    const signer = new Bun.S3Client({ endpoint: server.endpoint, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, bucket: "models" });
    const first = signer.presign("model/config.json", { expiresIn: 600 });
    const second = signer.presign("model/config.json", { expiresIn: 900 });
    expect(first).not.toBe(second);
    expect(taskId({ url: first })).toBe(taskId({ url: second }));
    const http = createHttpSource();
    expect((await http.stat({ url: first, header: {} })).contentLength).toBe(COMPLIANCE_FILES["model/config.json"]!.length);
    const body = await new Response((await http.get({ url: second, header: {}, range: { start: 0, length: 5 } })).body).text();
    expect(body).toBe('{"arc');
    // A tampered signature is refused, and the message keeps no signature.
    const tampered = first.replace(/X-Amz-Signature=[0-9a-f]{4}/, "X-Amz-Signature=0000");
    const error = await http.stat({ url: tampered, header: {} }).catch((e: unknown) => e as SourceError);
    expect((error as SourceError).statusCode).toBe(403);
    expect((error as SourceError).message).toContain("X-Amz-Signature=***");
    expect((error as SourceError).message).not.toMatch(/X-Amz-Signature=[0-9a-f]/);
  });
});
