/** One dfdaemon and dfget against real HTTP origins: back-to-source, local hits, origin errors, bad input. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as net from "node:net";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { freePort, metric, runCli, sha256File, spawnDaemon, tempDir } from "../helpers/processes.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";

const MIB = 1024 * 1024;
setDefaultTimeout(120_000);
let origin: Origin;
let peer: PeerDaemon;
let out: string;

beforeAll(async () => {
  origin = startOrigin();
  out = tempDir("libellula-out-");
  peer = await spawnPeer({ name: "solo" });
});

afterAll(async () => {
  await peer?.kill();
  await origin?.stop();
});

describe("dfget with one dfdaemon and no scheduler", () => {
  test("downloads a multi-piece file from the origin once and serves the second request locally", async () => {
    const file = origin.add("/big.bin", randomFile(21 * MIB + 123).data);
    const first = await runCli("dfget", [origin.url("/big.bin"), "-O", join(out, "big-1"), "-e", peer.socket, "--no-progress"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(await sha256File(join(out, "big-1"))).toBe(file.sha256);
    expect(origin.sent("/big.bin")).toBeLessThanOrEqual(file.data.length + 1);
    const second = await runCli("dfget", [origin.url("/big.bin"), "-O", join(out, "big-2"), "-e", peer.socket]);
    expect(second.code).toBe(0);
    expect(await sha256File(join(out, "big-2"))).toBe(file.sha256);
    expect(origin.sent("/big.bin")).toBeLessThanOrEqual(file.data.length + 1);
    expect(await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "local_peer" })).toBe(file.data.length);
    expect(await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" })).toBe(file.data.length);
  });

  test("--transfer-from-dfdaemon writes the bytes received over the socket", async () => {
    const file = origin.add("/transfer.bin", randomFile(9 * MIB).data);
    const result = await runCli("dfget", [origin.url("/transfer.bin"), "-O", join(out, "transfer"), "-e", peer.socket, "--transfer-from-dfdaemon"]);
    expect(result.code).toBe(0);
    expect(await sha256File(join(out, "transfer"))).toBe(file.sha256);
  });

  test("an origin without Range support is read in one request", async () => {
    await using plain = startOrigin({ ranges: false });
    const file = plain.add("/plain.bin", randomFile(10 * MIB + 7).data);
    const result = await runCli("dfget", [plain.url("/plain.bin"), "-O", join(out, "plain"), "-e", peer.socket]);
    expect(result.stderr).toBe("");
    expect(await sha256File(join(out, "plain"))).toBe(file.sha256);
  });

  test("request headers reach the origin", async () => {
    origin.add("/headers.bin", randomFile(1000).data);
    const result = await runCli("dfget", [origin.url("/headers.bin"), "-O", join(out, "headers"), "-e", peer.socket, "-H", "X-Token: secret-1", "-H", "Accept: */*"]);
    expect(result.code).toBe(0);
    expect(origin.headers("/headers.bin").every((h) => h.get("x-token") === "secret-1")).toBe(true);
  });

  test("redirects are followed", async () => {
    const file = origin.add("/target.bin", randomFile(5 * MIB).data);
    await using redirector = { server: Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.redirect(origin.url("/target.bin"), 302) }), async [Symbol.asyncDispose]() { await this.server.stop(true); } };
    const result = await runCli("dfget", [`http://127.0.0.1:${redirector.server.port}/moved`, "-O", join(out, "redirected"), "-e", peer.socket]);
    expect(result.code).toBe(0);
    expect(await sha256File(join(out, "redirected"))).toBe(file.sha256);
  });

  for (const status of [404, 500]) {
    test(`an origin ${status} fails dfget with the status and leaves no file`, async () => {
      origin.fail(`/fail-${status}`, status);
      const target = join(out, `fail-${status}`);
      const result = await runCli("dfget", [origin.url(`/fail-${status}`), "-O", target, "-e", peer.socket]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`answered ${status}`);
      expect(existsSync(target)).toBe(false);
      expect(readdirSync(out).filter((f) => f.startsWith(`fail-${status}`))).toEqual([]);
    });
  }

  test("a dead origin fails with a clear message", async () => {
    const port = await freePort();
    const result = await runCli("dfget", [`http://127.0.0.1:${port}/x`, "-O", join(out, "dead"), "-e", peer.socket]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Cannot reach origin "http://127.0.0.1:${port}/x"`);
  });

  test("--digest is verified on the whole file", async () => {
    const file = origin.add("/digest.bin", randomFile(6 * MIB).data);
    const good = await runCli("dfget", [origin.url("/digest.bin"), "-O", join(out, "digest-ok"), "-e", peer.socket, "--digest", `sha256:${file.sha256}`]);
    expect(good.code).toBe(0);
    const wrong = "0".repeat(64);
    const bad = await runCli("dfget", [origin.url("/digest.bin"), "-O", join(out, "digest-bad"), "-e", peer.socket, "--digest", `sha256:${wrong}`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("digest mismatch");
    expect(existsSync(join(out, "digest-bad"))).toBe(false);
  });

  test("an existing output is kept unless --overwrite", async () => {
    const file = origin.add("/exists.bin", randomFile(1000).data);
    const target = join(out, "exists");
    writeFileSync(target, "keep me");
    const refused = await runCli("dfget", [origin.url("/exists.bin"), "-O", target, "-e", peer.socket]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("file exists");
    expect(await Bun.file(target).text()).toBe("keep me");
    const replaced = await runCli("dfget", [origin.url("/exists.bin"), "-O", target, "-e", peer.socket, "--overwrite"]);
    expect(replaced.code).toBe(0);
    expect(await sha256File(target)).toBe(file.sha256);
  });

  test("bad flags and URLs get a usage error naming them", async () => {
    expect((await runCli("dfget", ["not a url", "-O", "/tmp/x"])).stderr).toContain('invalid URL "not a url"');
    expect((await runCli("dfget", [origin.url("/x")])).stderr).toContain('missing "--output"');
    const small = await runCli("dfget", [origin.url("/x"), "-O", "/tmp/x", "--piece-length", "1mib"]);
    expect(small.code).toBe(2);
    expect(small.stderr).toContain("at least 4MiB");
    expect((await runCli("dfget", [origin.url("/x"), "-O", "/tmp/x", "--bogus"])).stderr).toContain('unknown flag "--bogus"');
    expect((await runCli("dfget", [origin.url("/x"), "-O", "/tmp/x", "--digest", "sha256:zz"])).stderr).toContain("64 hex");
  });

  test("a missing daemon socket is reported clearly", async () => {
    const result = await runCli("dfget", [origin.url("/x"), "-O", join(out, "nodaemon"), "-e", "/nonexistent/dfdaemon.sock"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Cannot connect to dfdaemon at "/nonexistent/dfdaemon.sock"');
  });
});

describe("dfdaemon start-up", () => {
  test("an unknown config key fails naming the key", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "c.yaml"), "storage:\n  dir: /tmp/x\n  bogus: 1\n");
    const error = await spawnDaemon("dfdaemon", ["--config", join(dir, "c.yaml")], /ready/, 10_000).catch((e: Error) => e);
    expect(String(error)).toContain('unknown key "storage.bogus"');
  });

  test("a bad value fails naming the key", async () => {
    const error = await spawnDaemon("dfdaemon", ["--download.concurrentPieceCount", "0"], /ready/, 10_000).catch((e: Error) => e);
    expect(String(error)).toContain('key "download.concurrentPieceCount"');
  });
});

describe("scheduler unreachable", () => {
  test("peers go back to source, or fail clearly when back-to-source is disabled", async () => {
    const deadScheduler = `127.0.0.1:${await freePort()}`;
    await using lonely = await spawnPeer({ name: "lonely", schedulers: [deadScheduler] });
    const file = origin.add("/lonely.bin", randomFile(13 * MIB).data);
    const ok = await runCli("dfget", [origin.url("/lonely.bin"), "-O", join(out, "lonely"), "-e", lonely.socket]);
    expect(ok.stderr).toBe("");
    expect(await sha256File(join(out, "lonely"))).toBe(file.sha256);
    origin.add("/lonely-2.bin", randomFile(13 * MIB).data);
    const refused = await runCli("dfget", [origin.url("/lonely-2.bin"), "-O", join(out, "lonely-2"), "-e", lonely.socket, "--disable-back-to-source"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("back-to-source is disabled");
    expect(origin.sent("/lonely-2.bin")).toBe(1);
  });
});

describe("malformed input on the daemon's ports", () => {
  test("a malformed Vortex frame gets an error frame and the daemon keeps serving", async () => {
    const reply = await new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      const socket = net.connect(peer.vortexPort, "127.0.0.1", () => {
        socket.write(new Uint8Array([7, 0, 0, 0, 0, 3, 1, 2, 3]));
      });
      socket.on("data", (c: Uint8Array) => chunks.push(c));
      socket.on("close", () => resolve(Buffer.concat(chunks)));
      socket.on("error", reject);
    });
    expect(reply[1]).toBe(255);
    expect(reply[6]).toBe(1);
    expect(new TextDecoder().decode(reply.subarray(7))).toContain("Invalid Vortex frame");
    const file = origin.add("/after-vortex.bin", randomFile(5 * MIB).data);
    const result = await runCli("dfget", [origin.url("/after-vortex.bin"), "-O", join(out, "after-vortex"), "-e", peer.socket]);
    expect(result.code).toBe(0);
    expect(await sha256File(join(out, "after-vortex"))).toBe(file.sha256);
  });

  test("a malformed gRPC message gets an error status and the daemon keeps serving", async () => {
    const http2 = await import("node:http2");
    const session = http2.connect(`http://127.0.0.1:${peer.uploadPort}`);
    const status = await new Promise<string | undefined>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/dfdaemon.v2.DfdaemonUpload/StatTask",
        "content-type": "application/grpc",
        te: "trailers",
      });
      let grpcStatus: string | undefined;
      stream.on("response", (headers) => (grpcStatus = headers["grpc-status"] as string | undefined ?? grpcStatus));
      stream.on("trailers", (trailers) => (grpcStatus = trailers["grpc-status"] as string));
      stream.on("data", () => {});
      stream.on("end", () => resolve(grpcStatus));
      stream.on("error", reject);
      // A frame header claiming 5 bytes of protobuf, followed by bytes that are not protobuf.
      stream.end(new Uint8Array([0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]));
    });
    session.close();
    expect(status).toBeDefined();
    expect(status).not.toBe("0");
    const file = origin.add("/after-grpc.bin", randomFile(5 * MIB).data);
    const result = await runCli("dfget", [origin.url("/after-grpc.bin"), "-O", join(out, "after-grpc"), "-e", peer.socket]);
    expect(result.code).toBe(0);
    expect(await sha256File(join(out, "after-grpc"))).toBe(file.sha256);
  });
});
