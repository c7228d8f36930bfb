/**
 * End to end with real clients: docker-registry holds an image pushed by skopeo; peers of a cluster serve it
 * through their proxies (as a registry mirror and as HTTP(S)_PROXY); pulled images are byte-identical and the
 * registry serves each layer once in total.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { metric, tempDir } from "../helpers/processes.ts";
import { buildImage, mirrorConf, readLayout, run, skopeo, startRegistry, type Registry, type TestImage } from "../helpers/registry.ts";

setDefaultTimeout(120_000);

const MIB = 1024 * 1024;
/** Every layer is above 4 MiB, so that no peer takes the small-task shortcut straight to the registry. */
const LAYER_SIZES = [9 * MIB, 6 * MIB, 5 * MIB];

let registry: Registry;
let image: TestImage;
let cluster: Cluster;

beforeAll(async () => {
  registry = await startRegistry();
  image = buildImage(LAYER_SIZES);
  const pushed = await skopeo()(["copy", "--preserve-digests", "--dest-tls-verify=false", image.reference, `docker://${registry.host}/demo/app:v1`]);
  expect(pushed.stderr).toBe("");
  expect(pushed.code).toBe(0);
  cluster = await startCluster({
    peers: 3,
    // Blob tasks are keyed by digest, so the same layer under another registry name is the same task.
    peerExtra: ["--proxy.registryMirror.addr", registry.url, "--proxy.registryMirror.enableTaskIDBasedBlobDigest", "true"],
  });
});

afterAll(async () => {
  await cluster?.stop();
  await registry?.stop();
});

function expectSameImage(dir: string): void {
  const pulled = readLayout(dir, "v1");
  expect(pulled.manifestDigest).toBe(image.manifestDigest);
  for (const blob of [image.config, ...image.layers]) expect(pulled.blobs.get(blob.digest)).toBe(blob.digest);
}

describe("skopeo through the proxy", () => {
  test("pulls through two peers' registry mirrors and a third peer's HTTP(S)_PROXY give identical images, each layer served once", async () => {
    const [peer1, peer2, peer3] = cluster.peers;
    for (const peer of [peer1!, peer2!]) {
      const out = tempDir("libellula-pull-");
      const copy = skopeo({ registriesConf: mirrorConf(registry.host, `127.0.0.1:${peer.proxyPort}`) });
      const result = await copy(["copy", "--preserve-digests", "--src-tls-verify=false", `docker://${registry.host}/demo/app:v1`, `oci:${out}:v1`]);
      expect(result.stderr).not.toContain("level=error");
      expect(result.code).toBe(0);
      expectSameImage(out);
      // Each layer went through P2P on this peer (not a silent fallback to the registry).
      expect(await metric(peer.metricsPort, "libellula_proxy_requests_total", { type: "p2p" })).toBeGreaterThanOrEqual(LAYER_SIZES.length);
    }

    // Go does not proxy loopback addresses, so the third client names the registry registry.localhost.
    const proxyUrl = `http://127.0.0.1:${peer3!.proxyPort}`;
    const viaProxy = skopeo({ env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl } });
    const out = tempDir("libellula-pull-");
    const port = registry.host.split(":")[1];
    const result = await viaProxy(["copy", "--preserve-digests", "--src-tls-verify=false", `docker://registry.localhost:${port}/demo/app:v1`, `oci:${out}:v1`]);
    expect(result.code).toBe(0);
    expectSameImage(out);
    expect(await metric(peer3!.metricsPort, "libellula_proxy_requests_total", { type: "p2p" })).toBeGreaterThanOrEqual(LAYER_SIZES.length);
    expect(await metric(peer3!.metricsPort, "libellula_proxy_connect_total")).toBeGreaterThanOrEqual(1);

    for (const layer of image.layers) {
      // One copy of the layer, plus a byte for each peer's size probe.
      expect(registry.blobBytes(layer.digest)).toBeGreaterThanOrEqual(layer.size);
      expect(registry.blobBytes(layer.digest)).toBeLessThanOrEqual(layer.size + 16);
    }
    const remote = await Promise.all(
      cluster.peers.map((p) => metric(p.metricsPort, "libellula_download_traffic_bytes_total", { type: "remote_peer" })),
    );
    expect(remote.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(LAYER_SIZES.reduce((a, b) => a + b, 0) * 3);
  });

  test("curl Range requests through the proxy get 206 with Content-Range and the right bytes", async () => {
    const peer = cluster.peers[0]!;
    const layer = image.layers[0]!;
    const url = `http://127.0.0.1:${peer.proxyPort}/v2/demo/app/blobs/${layer.digest}`;
    const status = await run("curl", ["-sS", "-D", "-", "-o", "/dev/null", "-r", "1000-1999", url]);
    expect(status.stdout).toMatch(/^HTTP\/1\.1 206/);
    expect(status.stdout.toLowerCase()).toContain(`content-range: bytes 1000-1999/${layer.size}`);
    expect(status.stdout.toLowerCase()).toContain("x-dragonfly-task-id:");
    const bytes = await run("sh", ["-c", `curl -sS -r 1000-1999 '${url}' | sha256sum`]);
    const { createHash } = await import("node:crypto");
    const { readFileSync } = await import("node:fs");
    const whole = readFileSync(`${image.dir}/blobs/sha256/${layer.digest.slice(7)}`);
    expect(bytes.stdout.split(" ")[0]).toBe(createHash("sha256").update(whole.subarray(1000, 2000)).digest("hex"));
    const suffix = await run("sh", ["-c", `curl -sS -r -500 '${url}' | sha256sum`]);
    expect(suffix.stdout.split(" ")[0]).toBe(createHash("sha256").update(whole.subarray(whole.length - 500)).digest("hex"));
    const outside = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-r", `${layer.size + 10}-`, url]);
    expect(outside.stdout).toBe("416");
  });
});
