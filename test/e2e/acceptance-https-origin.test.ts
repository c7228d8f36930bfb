/**
 * Back-to-source over https (issue 2): a dfdaemon that trusts the origin's certificate downloads by ranged
 * GETs with every byte right; one that does not fails dfget with the TLS reason and leaves no file.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile } from "../helpers/origin.ts";
import { runCli, sha256File, tempDir } from "../helpers/processes.ts";
import { selfSignedCertificate } from "../helpers/registry.ts";

setDefaultTimeout(120_000);
const MIB = 1024 * 1024;
const file = randomFile(10 * MIB);
const ranges: string[] = [];
let server: ReturnType<typeof Bun.serve>;
let trusting: PeerDaemon;
let untrusting: PeerDaemon;

beforeAll(async () => {
  const certificate = selfSignedCertificate("127.0.0.1", { ips: ["127.0.0.1"] }, true);
  const caFile = join(tempDir(), "origin-ca.pem");
  writeFileSync(caFile, certificate.certPem);
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: certificate.certPem, key: certificate.keyPem },
    fetch(request) {
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      if (!range) return new Response(file.data as Uint8Array<ArrayBuffer>, { headers: { "content-length": String(file.data.length) } });
      ranges.push(request.headers.get("range")!);
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), file.data.length - 1) : file.data.length - 1;
      return new Response(file.data.subarray(start, end + 1) as Uint8Array<ArrayBuffer>, {
        status: 206,
        headers: { "content-range": `bytes ${start}-${end}/${file.data.length}`, "content-length": String(end - start + 1) },
      });
    },
  });
  // The CA reaches only the first daemon's environment.
  const previous = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = caFile;
  try {
    trusting = await spawnPeer({ name: "tlspeer" });
  } finally {
    if (previous === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previous;
  }
  untrusting = await spawnPeer({ name: "tlsstranger" });
});

afterAll(async () => {
  await Promise.all([trusting?.kill(), untrusting?.kill()]);
  await server?.stop(true);
});

test("a dfdaemon that trusts the origin downloads over https by ranges, every byte right", async () => {
  const out = join(tempDir(), "file.bin");
  const result = await runCli("dfget", [`https://127.0.0.1:${server.port}/file.bin`, "-O", out, "-e", trusting.socket]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(await sha256File(out)).toBe(file.sha256);
  // 10 MiB is three 4 MiB pieces, each a ranged GET.
  expect(ranges.filter((r) => r !== "bytes=0-0").length).toBeGreaterThanOrEqual(3);
});

test("a dfdaemon that does not trust the certificate fails dfget with the TLS reason and leaves no file", async () => {
  const out = join(tempDir(), "refused.bin");
  const result = await runCli("dfget", [`https://127.0.0.1:${server.port}/file.bin`, "-O", out, "-e", untrusting.socket]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/certificate|self.signed|unable to verify|tls/i);
  expect(existsSync(out)).toBe(false);
});
