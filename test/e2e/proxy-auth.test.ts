/**
 * Registry auth through the proxy: credentials pass through to the registry (htpasswd and token), and a layer
 * one client brought into the cluster is never served to a client the registry would refuse.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startCluster, type Cluster } from "../helpers/cluster.ts";
import { metric, tempDir } from "../helpers/processes.ts";
import { buildImage, mirrorConf, readLayout, run, skopeo, startRegistry, type Registry, type TestImage } from "../helpers/registry.ts";

setDefaultTimeout(120_000);

const MIB = 1024 * 1024;
const ALICE = { username: "alice", password: "wonderland-42" };

for (const kind of ["htpasswd", "token"] as const) {
  describe(`a registry with ${kind} auth behind the proxy`, () => {
    let registry: Registry;
    let image: TestImage;
    let cluster: Cluster;

    beforeAll(async () => {
      registry = await startRegistry({ auth: { kind, accounts: [ALICE] } });
      image = buildImage([6 * MIB, 5 * MIB]);
      const pushed = await skopeo()([
        "copy", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds", `${ALICE.username}:${ALICE.password}`,
        image.reference, `docker://${registry.host}/private/app:v1`,
      ]);
      expect(pushed.stderr).toBe("");
      expect(pushed.code).toBe(0);
      cluster = await startCluster({ peers: 2, peerExtra: ["--proxy.registryMirror.addr", registry.url] });
    });

    afterAll(async () => {
      await cluster?.stop();
      await registry?.stop();
    });

    /** A bearer token from the registry's token server, or basic credentials. */
    async function authorization(account = ALICE): Promise<string> {
      if (kind === "htpasswd") return `Basic ${Buffer.from(`${account.username}:${account.password}`).toString("base64")}`;
      const challenge = (await fetch(`${registry.url}/v2/`)).headers.get("www-authenticate") ?? "";
      const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
      const service = /service="([^"]+)"/.exec(challenge)?.[1];
      const response = await fetch(`${realm}?service=${service}&scope=repository:private/app:pull`, {
        headers: { authorization: `Basic ${Buffer.from(`${account.username}:${account.password}`).toString("base64")}` },
      });
      expect(response.status).toBe(200);
      return `Bearer ${((await response.json()) as { token: string }).token}`;
    }

    test("skopeo with credentials pulls through the mirror; clients without them get the registry's 401 for cached layers", async () => {
      const [peer1, peer2] = cluster.peers;
      const out = tempDir("libellula-pull-");
      const mirror = `127.0.0.1:${peer1!.proxyPort}`;
      const withCreds = skopeo({ registriesConf: mirrorConf(registry.host, mirror), auths: { [mirror]: ALICE, [registry.host]: ALICE } });
      const pulled = await withCreds([
        "copy", "--preserve-digests", "--src-tls-verify=false",
        `docker://${registry.host}/private/app:v1`, `oci:${out}:v1`,
      ]);
      expect(pulled.code).toBe(0);
      // The layers came through P2P on peer1, not by a fallback to the registry.
      expect(await metric(peer1!.metricsPort, "libellula_proxy_requests_total", { type: "p2p" })).toBeGreaterThanOrEqual(image.layers.length);
      const layout = readLayout(out, "v1");
      expect(layout.manifestDigest).toBe(image.manifestDigest);
      for (const layer of image.layers) expect(layout.blobs.get(layer.digest)).toBe(layer.digest);
      const servedAfterPull = image.layers.map((l) => registry.blobBytes(l.digest));

      const layer = image.layers[0]!;
      const path = `/v2/private/app/blobs/${layer.digest}`;
      for (const peer of [peer1!, peer2!]) {
        // No credentials: the layer is in the cluster (and on peer1's disk), yet the registry's answer comes back.
        const anonymous = await fetch(`http://127.0.0.1:${peer.proxyPort}${path}`);
        const body = await anonymous.text();
        expect(anonymous.status).toBe(401);
        expect(anonymous.headers.get("www-authenticate")).toMatch(kind === "htpasswd" ? /^Basic realm=/ : /^Bearer realm=/);
        expect(body.length).toBeLessThan(1024);
        expect(body).toContain("UNAUTHORIZED");
        // Wrong credentials fare no better.
        const wrong = await fetch(`http://127.0.0.1:${peer.proxyPort}${path}`, {
          headers: { authorization: `Basic ${Buffer.from("alice:not-her-password").toString("base64")}` },
        });
        await wrong.body?.cancel();
        expect(wrong.status).toBe(401);
      }
      const anonymousCopy = await skopeo({ registriesConf: mirrorConf(registry.host, `127.0.0.1:${peer2!.proxyPort}`) })([
        "copy", "--src-tls-verify=false", `docker://${registry.host}/private/app:v1`, `oci:${tempDir("libellula-pull-")}:v1`,
      ]);
      expect(anonymousCopy.code).not.toBe(0);
      expect(anonymousCopy.stderr).toMatch(/unauthorized|authentication required/i);

      // With credentials, peer2 serves the layer from the cluster.
      const allowed = await fetch(`http://127.0.0.1:${peer2!.proxyPort}${path}`, { headers: { authorization: await authorization() } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get("x-dragonfly-task-id")).toMatch(/^[0-9a-f]{64}$/);
      const bytes = new Uint8Array(await allowed.arrayBuffer());
      expect(`sha256:${createHash("sha256").update(bytes).digest("hex")}`).toBe(layer.digest);
      const local = readFileSync(join(image.dir, "blobs", "sha256", layer.digest.slice(7)));
      expect(bytes.length).toBe(local.length);

      // Refused clients pulled nothing: each layer's bytes left the registry once, plus size probes.
      image.layers.forEach((l, i) => {
        expect(servedAfterPull[i]!).toBeGreaterThanOrEqual(l.size);
        expect(registry.blobBytes(l.digest)).toBeLessThanOrEqual(l.size + 16);
      });
    });

    test("curl through the proxy as HTTP_PROXY gets 401 without credentials and the blob with them", async () => {
      const peer = cluster.peers[1]!;
      const layer = image.layers[1]!;
      const url = `${registry.url}/v2/private/app/blobs/${layer.digest}`;
      const denied = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", `http://127.0.0.1:${peer.proxyPort}`, url]);
      expect(denied.stdout).toBe("401");
      const granted = await run("sh", ["-c", `curl -sS -f -x http://127.0.0.1:${peer.proxyPort} -H 'Authorization: ${await authorization()}' '${url}' | sha256sum`]);
      expect(`sha256:${granted.stdout.split(" ")[0]}`).toBe(layer.digest);
    });
  });
}
