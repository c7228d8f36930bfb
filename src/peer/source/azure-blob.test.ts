import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import { startAzureBlobServer, type AzureBlobServer } from "../../../test/helpers/azure-blob-server.ts";
import { COMPLIANCE_FILES, describeSourceCompliance } from "./compliance.ts";
import { createAzureBlobSource } from "./azure-blob.ts";
import type { ObjectStorageOptions } from "./source.ts";

const source = createAzureBlobSource();

async function startWithFiles(): Promise<AzureBlobServer> {
  const server = await startAzureBlobServer();
  await server.createContainer("models");
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) await server.put("models", path, data);
  return server;
}

function credentials(server: AzureBlobServer, extra: ObjectStorageOptions = {}): ObjectStorageOptions {
  return { endpoint: server.endpoint, accessKeyId: server.account, accessKeySecret: server.key, ...extra };
}

describeSourceCompliance("abs", async () => {
  const server = await startWithFiles();
  return { source, url: (path) => `abs://models/${path}`, options: { objectStorage: credentials(server) }, stop: () => server.stop() };
});

describe("abs backend against Azurite, which checks Shared Key signatures", () => {
  let server: AzureBlobServer;
  const MIB = 1024 * 1024;
  const big = new Uint8Array(9 * MIB + 3).map((_, i) => (i * 131) % 253);

  beforeAll(async () => {
    server = await startWithFiles();
    await server.put("models", "dir with space/big.bin", big);
  });
  afterAll(() => server?.stop());

  test("a blob whose name needs encoding is read whole and by range", async () => {
    const request = { url: "abs://models/dir%20with%20space/big.bin", header: {}, objectStorage: credentials(server) };
    expect((await source.stat(request)).contentLength).toBe(big.length);
    const range = { start: 4 * MIB - 7, length: 4 * MIB + 9 };
    const got = new Uint8Array(await new Response((await source.get({ ...request, range })).body).arrayBuffer());
    expect(Buffer.from(got).equals(Buffer.from(big.subarray(range.start, range.start + range.length)))).toBe(true);
  });

  test("a wrong account key is a clear 403 that does not show the key", async () => {
    const wrong = Buffer.from("not-the-account-key-of-this-storage-account").toString("base64");
    const error = await source
      .stat({ url: "abs://models/model/config.json", header: {}, objectStorage: credentials(server, { accessKeySecret: wrong }) })
      .catch((e: unknown) => e as SourceError);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).statusCode).toBe(403);
    expect((error as SourceError).message).toContain("AuthorizationFailure");
    expect((error as SourceError).message).not.toContain(wrong);
  });

  test("a missing container is a 404 naming the URL, for reads and listings", async () => {
    const request = { url: "abs://nowhere/model/config.json", header: {}, objectStorage: credentials(server) };
    const read = await source.get(request).catch((e: unknown) => e as SourceError);
    expect((read as SourceError).statusCode).toBe(404);
    expect((read as SourceError).message).toContain("abs://nowhere/model/config.json");
    expect((read as SourceError).message).toContain("ContainerNotFound");
    const list = await source.list!({ ...request, url: "abs://nowhere/model/" }).catch((e: unknown) => e as SourceError);
    expect((list as SourceError).statusCode).toBe(404);
  });

  test("no account is a clear error before any request", async () => {
    const error = await source.stat({ url: "abs://models/model/config.json", header: {} }).catch((e: unknown) => e as SourceError);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).message).toContain("no storage account");
  });

  test("a directory URL is refused for reads", async () => {
    const error = await source.get({ url: "abs://models/model/", header: {}, objectStorage: credentials(server) }).catch((e: unknown) => e as SourceError);
    expect((error as SourceError).statusCode).toBe(400);
  });
});
