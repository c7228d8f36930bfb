/**
 * gs://, oss://, obs:// and cos:// use the same S3-compatible path as s3:// when given an endpoint: each passes
 * the backend compliance suite against an S3 server that checks signatures, and a wrong key is refused.
 */
import { expect, test } from "bun:test";
import { SourceError } from "../../common/errors.ts";
import { startS3Server, type S3Server } from "../../../test/helpers/s3-server.ts";
import { COMPLIANCE_FILES, describeSourceCompliance } from "./compliance.ts";
import { createObjectStorageSource, OBJECT_STORAGE_SCHEMES } from "./object-storage.ts";
import type { ObjectStorageOptions } from "./source.ts";

const source = createObjectStorageSource();
const SCHEMES = OBJECT_STORAGE_SCHEMES.filter((scheme) => scheme !== "s3");

async function startWithFiles(): Promise<S3Server> {
  const server = await startS3Server({ buckets: ["store"], region: "ap-southeast-1" });
  for (const [path, data] of Object.entries(COMPLIANCE_FILES)) await server.client.write(path, data, { bucket: "store" });
  return server;
}

function credentials(server: S3Server, extra: ObjectStorageOptions = {}): ObjectStorageOptions {
  return { endpoint: server.endpoint, region: server.region, accessKeyId: server.accessKeyId, accessKeySecret: server.secretAccessKey, ...extra };
}

test("the S3-compatible schemes besides s3 are gs, oss, obs and cos", () => {
  expect([...SCHEMES].sort()).toEqual(["cos", "gs", "obs", "oss"]);
});

for (const scheme of SCHEMES) {
  describeSourceCompliance(scheme, async () => {
    const server = await startWithFiles();
    return { source, url: (path) => `${scheme}://store/${path}`, options: { objectStorage: credentials(server) }, stop: () => server.stop() };
  });

  test(`${scheme}:// with a wrong secret is refused with a 403 that does not show the secret`, async () => {
    const server = await startWithFiles();
    try {
      const secret = `wrong-${scheme}-secret-0042`;
      const error = await source
        .stat({ url: `${scheme}://store/model/config.json`, header: {}, objectStorage: credentials(server, { accessKeySecret: secret }) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect((error as SourceError).statusCode).toBe(403);
      expect((error as SourceError).message).not.toContain(secret);
    } finally {
      await server.stop();
    }
  });
}
