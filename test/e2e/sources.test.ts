/**
 * Source backends end to end: dfget (and dfget -r) through real dfdaemon processes against servers that
 * speak S3, WebHDFS, Hugging Face and ModelScope, and a model directory spread over a cluster.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { startHuggingFaceHub, startModelScopeHub, type HubServer } from "../helpers/hub-servers.ts";
import { randomFile } from "../helpers/origin.ts";
import { runCli, sha256File, tempDir } from "../helpers/processes.ts";
import { startS3Server, type S3Server } from "../helpers/s3-server.ts";
import { startWebHdfs, type WebHdfs } from "../helpers/webhdfs.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

describe("sources through one dfdaemon without a scheduler", () => {
  let peer: PeerDaemon;
  let s3: S3Server;
  let hdfs: WebHdfs;
  let ms: HubServer;
  let out: string;
  const HDFS_TOKEN = "hdfs-delegation-7d3e1f0a9b";
  const tree = {
    "data/a.bin": randomFile(5 * MIB + 17),
    "data/b.txt": randomFile(2000),
    "data/nested/c.bin": randomFile(300 * 1024),
    "data/nested/deeper/d.json": randomFile(100),
  };

  beforeAll(async () => {
    out = tempDir("libellula-sources-");
    [peer, s3] = await Promise.all([spawnPeer({ name: "sources", extra: ["--log.level", "debug"] }), startS3Server({ buckets: ["bucket"], region: "eu-central-1" })]);
    hdfs = startWebHdfs({ delegationToken: HDFS_TOKEN });
    ms = startModelScopeHub({ token: "ms-secret-token-42" });
    for (const [path, file] of Object.entries(tree)) {
      await s3.client.write(path, file.data, { bucket: "bucket" });
      hdfs.add(path, file.data);
    }
    // Objects no other test downloads, so that no stored task answers for them.
    await s3.client.write("solo/x.bin", randomFile(1000).data, { bucket: "bucket" });
  });
  afterAll(async () => {
    await peer?.kill();
    await s3?.stop();
    await hdfs?.stop();
    await ms?.stop();
  });

  const s3Flags = (secret = s3.secretAccessKey, region = s3.region) => [
    "--storage-endpoint", s3.endpoint, "--storage-region", region,
    "--storage-access-key-id", s3.accessKeyId, "--storage-access-key-secret", secret,
  ];

  test("dfget -r copies an S3 prefix into the same tree, and the secret appears nowhere", async () => {
    const target = join(out, "s3-tree");
    const result = await runCli("dfget", ["-r", "s3://bucket/data/", "-O", target, "-e", peer.socket, ...s3Flags()]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(filesUnder(target)).toEqual(["a.bin", "b.txt", "nested/c.bin", "nested/deeper/d.json"]);
    for (const [path, file] of Object.entries(tree)) expect(await sha256File(join(target, relative("data", path)))).toBe(file.sha256);
    // Each object was read from the store once (plus nothing: stat is a HEAD).
    for (const [path, file] of Object.entries(tree)) expect(s3.sent("bucket", path)).toBe(file.data.length);
    const metrics = await (await fetch(`http://127.0.0.1:${peer.metricsPort}/metrics`)).text();
    expect(peer.output()).not.toContain(s3.secretAccessKey);
    expect(metrics).not.toContain(s3.secretAccessKey);
  });

  test("--include-files keeps the matching files only", async () => {
    const target = join(out, "s3-include");
    const result = await runCli("dfget", ["-r", "s3://bucket/data/", "-O", target, "-e", peer.socket, ...s3Flags(), "-I", "**/*.bin", "--include-files", "*.txt"]);
    expect(result.code).toBe(0);
    expect(filesUnder(target)).toEqual(["a.bin", "b.txt", "nested/c.bin"]);
  });

  test("--max-files refuses a directory with more files", async () => {
    const result = await runCli("dfget", ["-r", "s3://bucket/data/", "-O", join(out, "s3-max"), "-e", peer.socket, ...s3Flags(), "--max-files", "3"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('dfget: Cannot download "s3://bucket/data/": 4 files exceed "--max-files" 3\n');
    expect(existsSync(join(out, "s3-max"))).toBe(false);
  });

  test("a wrong secret fails naming the file and the store's reason, without the secret", async () => {
    const secret = "not-the-secret-9f8e7d6c";
    const result = await runCli("dfget", ["s3://bucket/solo/x.bin", "-O", join(out, "bad-secret"), "-e", peer.socket, ...s3Flags(secret)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"s3://bucket/solo/x.bin"');
    expect(result.stderr).toContain("403 SignatureDoesNotMatch");
    expect(result.stderr).not.toContain(secret);
    expect(peer.output()).not.toContain(secret);
  });

  test("a missing object and a wrong region fail with the store's reasons", async () => {
    const missing = await runCli("dfget", ["s3://bucket/data/none.bin", "-O", join(out, "none"), "-e", peer.socket, ...s3Flags()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Cannot stat "s3://bucket/data/none.bin": 404 NoSuchKey');
    const region = await runCli("dfget", ["s3://bucket/solo/x.bin", "-O", join(out, "region"), "-e", peer.socket, ...s3Flags(s3.secretAccessKey, "us-east-2")]);
    expect(region.code).toBe(1);
    expect(region.stderr).toContain("the region 'us-east-2' is wrong; expecting 'eu-central-1'");
  });

  test("a presigned URL downloads over http with one task whatever the signature", async () => {
    const signer = new Bun.S3Client({ endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, bucket: "bucket" });
    const before = s3.sent("bucket", "data/nested/c.bin");
    for (const [i, expiresIn] of [600, 1200].entries()) {
      const result = await runCli("dfget", [signer.presign("data/nested/c.bin", { expiresIn }), "-O", join(out, `presigned-${i}`), "-e", peer.socket]);
      expect(result.stderr).toBe("");
      expect(await sha256File(join(out, `presigned-${i}`))).toBe(tree["data/nested/c.bin"].sha256);
    }
    // The second URL is the same task, already stored: the store sees the first one's stat and pieces only.
    expect(s3.sent("bucket", "data/nested/c.bin") - before).toBe(tree["data/nested/c.bin"].data.length + 1);
  });

  test("dfget -r over WebHDFS with a delegation token; a truncated file is reported by name and the others kept", async () => {
    hdfs.truncate("data/nested/c.bin", 1000);
    const target = join(out, "hdfs-tree");
    const result = await runCli("dfget", ["-r", `${hdfs.root}/data/`, "-O", target, "-e", peer.socket, "--hdfs-delegation-token", HDFS_TOKEN, "--max-concurrent-requests", "2"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`dfget: download of "${hdfs.root}/data/nested/c.bin" failed:`);
    expect(result.stderr).toContain("early");
    expect(result.stderr).toContain('dfget: 1 of 4 files failed: "nested/c.bin"');
    expect(result.stderr).not.toContain(HDFS_TOKEN);
    expect(peer.output()).not.toContain(HDFS_TOKEN);
    for (const path of ["data/a.bin", "data/b.txt", "data/nested/deeper/d.json"] as const) {
      expect(await sha256File(join(target, relative("data", path)))).toBe(tree[path].sha256);
    }
    expect(existsSync(join(target, "nested", "c.bin"))).toBe(false);
  });

  test("a ModelScope file at a revision, with a token that never reaches the daemon's log", async () => {
    const config = randomFile(3000);
    ms.add("acme/tiny", "config.json", config.data, "v1.0");
    const result = await runCli("dfget", ["modelscope://acme/tiny/config.json", "-O", join(out, "ms-config.json"), "-e", peer.socket, "--ms-base-url", ms.baseUrl, "--ms-revision", "v1.0", "--ms-token", "ms-secret-token-42"]);
    expect(result.stderr).toBe("");
    expect(await sha256File(join(out, "ms-config.json"))).toBe(config.sha256);
    const wrong = await runCli("dfget", ["modelscope://acme/tiny/config.json", "-O", join(out, "ms-missing"), "-e", peer.socket, "--ms-base-url", ms.baseUrl, "--ms-revision", "v2.0", "--ms-token", "ms-secret-token-42"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('"modelscope://acme/tiny/config.json" (revision "v2.0"): 404 Not Found: revision v2.0 not exists');
    expect(peer.output()).not.toContain("ms-secret-token-42");
  });

  test("-r is refused for http URLs and for URLs without a trailing slash", async () => {
    const http = await runCli("dfget", ["-r", "http://127.0.0.1:1/dir/", "-O", join(out, "x"), "-e", peer.socket]);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('"--recursive" is not supported for http URLs');
    const slash = await runCli("dfget", ["-r", "s3://bucket/data", "-O", join(out, "x"), "-e", peer.socket]);
    expect(slash.code).toBe(2);
    expect(slash.stderr).toContain('"--recursive" needs a directory URL ending in "/"');
  });
});

describe("a model directory from a Hugging Face hub through a cluster", () => {
  let cluster: Cluster;
  let hub: HubServer;
  let out: string;
  const TOKEN = "hf_clustertoken_5e6f7a8b9c";
  const model = {
    "model-00001-of-00002.safetensors": randomFile(9 * MIB + 11),
    "model-00002-of-00002.safetensors": randomFile(6 * MIB + 5),
    "tokenizer/tokenizer.model": randomFile(5 * MIB),
  };

  beforeAll(async () => {
    out = tempDir("libellula-hf-");
    hub = startHuggingFaceHub({ token: TOKEN });
    for (const [path, file] of Object.entries(model)) hub.add("acme/tiny-llm", path, file.data, "v2");
    cluster = await startCluster({ peers: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
    await hub?.stop();
  });

  test("3 peers get every file with equal sha256 while the hub serves each file once", async () => {
    const dfget = (i: number) =>
      runCli("dfget", ["-r", "hf://acme/tiny-llm/", "-O", join(out, `peer${i}`), "-e", cluster.peers[i]!.socket, "--hf-base-url", hub.baseUrl, "--hf-revision", "v2", "--hf-token", TOKEN]);
    const first = await dfget(0);
    expect(first.stderr).toBe("");
    const rest = await Promise.all([dfget(1), dfget(2)]);
    for (const result of rest) expect(result.stderr).toBe("");
    for (let i = 0; i < 3; i++) {
      expect(filesUnder(join(out, `peer${i}`))).toEqual(Object.keys(model).sort());
      for (const [path, file] of Object.entries(model)) expect(await sha256File(join(out, `peer${i}`, path))).toBe(file.sha256);
    }
    // Each file's bytes left the hub's store once; the rest is one-byte stats (three peers and the seed).
    for (const [path, file] of Object.entries(model)) {
      const sent = hub.sent("acme/tiny-llm", path, "v2");
      expect(sent).toBeGreaterThanOrEqual(file.data.length);
      expect(sent).toBeLessThanOrEqual(file.data.length + 4);
    }
    expect(hub.storeAuthorizations()).toBe(0);
    for (const daemon of [cluster.seed, ...cluster.peers, cluster.scheduler]) expect(daemon.output()).not.toContain(TOKEN);
  });
});
