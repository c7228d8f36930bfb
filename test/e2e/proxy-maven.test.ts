/**
 * Maven through the proxy as a repository mirror: a local Maven repository (jars, poms and .sha1 files) served by
 * an origin in the test, and `mvn` resolving an artifact and its dependency from it through dfdaemon with the
 * settings.xml form in deploy/proxy/maven.
 *
 * `mvn` runs offline-safe: the project is a pom-packaging project whose only remote artifacts are core extensions
 * (`.mvn/extensions.xml`), which Maven core resolves with its own resolver before any plugin is needed, so nothing
 * but this test's repository is ever asked (the mirror matches `*`).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { metric, tempDir } from "../helpers/processes.ts";
import { run } from "../helpers/registry.ts";

setDefaultTimeout(180_000);

const GROUP = "org/libellula/demo";

/** A zip archive of stored (uncompressed) entries: what a jar is. */
function zip(entries: Record<string, Uint8Array>): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBytes = Buffer.from(name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(10, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time and date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(10, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, Buffer.from(data));
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, directory, end]));
}

function sha1(data: Uint8Array | string): string {
  return createHash("sha1").update(data).digest("hex");
}

function pom(artifactId: string, dependency?: string): string {
  const dependencies = dependency
    ? `<dependencies><dependency><groupId>org.libellula.demo</groupId><artifactId>${dependency}</artifactId><version>1.0</version></dependency></dependencies>`
    : "";
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.libellula.demo</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>1.0</version>
  ${dependencies}
</project>
`;
}

/** A Maven repository over HTTP that counts requests and body bytes per path. */
function startRepository(files: Map<string, Uint8Array>) {
  const requests = new Map<string, number>();
  const sent = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      requests.set(path, (requests.get(path) ?? 0) + 1);
      const file = files.get(path);
      if (!file) return new Response("not found", { status: 404 });
      let body = file;
      let status = 200;
      const headers: Record<string, string> = { "content-type": "application/octet-stream" };
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), file.length - 1) : file.length - 1;
        if (start >= file.length) return new Response(null, { status: 416, headers: { "content-range": `bytes */${file.length}` } });
        body = file.subarray(start, end + 1);
        status = 206;
        headers["content-range"] = `bytes ${start}-${end}/${file.length}`;
      }
      if (request.method !== "HEAD") sent.set(path, (sent.get(path) ?? 0) + body.length);
      return new Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), { status, headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests: (path: string) => requests.get(path) ?? 0,
    sent: (path: string) => sent.get(path) ?? 0,
    stop: () => server.stop(true),
  };
}

let repository: ReturnType<typeof startRepository>;
let peer: PeerDaemon;
let dir: string;
const files = new Map<string, Uint8Array>();
const artifacts: Record<string, { jar: Uint8Array; pom: string }> = {};

/** The settings.xml of deploy/proxy/maven, pointed at this peer's proxy and this test's repository. */
function settingsXml(): string {
  const template = readFileSync(join(import.meta.dir, "../../deploy/proxy/maven/settings.xml"), "utf8");
  const settings = template
    .replace("http://127.0.0.1:4001/maven2", `http://127.0.0.1:${peer.proxyPort}/maven2`)
    .replace("https://repo.maven.apache.org", repository.url);
  expect(settings).toContain(`127.0.0.1:${peer.proxyPort}/maven2`);
  expect(settings).toContain(repository.url);
  return settings;
}

/** A project that needs `artifactId` (and so its dependencies) from the repository. */
function project(artifactId: string): string {
  const root = tempDir("libellula-mvn-project-");
  writeFileSync(
    join(root, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>` +
      `<groupId>org.libellula.test</groupId><artifactId>consumer</artifactId><version>1</version><packaging>pom</packaging></project>\n`,
  );
  mkdirSync(join(root, ".mvn"));
  writeFileSync(
    join(root, ".mvn", "extensions.xml"),
    `<extensions><extension><groupId>org.libellula.demo</groupId><artifactId>${artifactId}</artifactId><version>1.0</version></extension></extensions>\n`,
  );
  writeFileSync(join(root, "settings.xml"), settingsXml());
  return root;
}

function mvn(root: string, localRepository: string) {
  return run("mvn", ["-B", "--strict-checksums", "-s", join(root, "settings.xml"), `-Dmaven.repo.local=${localRepository}`, "-f", join(root, "pom.xml"), "validate"]);
}

beforeAll(async () => {
  dir = tempDir("libellula-maven-");
  for (const [name, dependency] of [["greeting", undefined], ["hello", "greeting"]] as const) {
    const jar = zip({
      "META-INF/MANIFEST.MF": new TextEncoder().encode("Manifest-Version: 1.0\r\nCreated-By: libellula-test\r\n\r\n"),
      [`org/libellula/demo/${name}.bin`]: new Uint8Array(randomBytes(256 * 1024)),
    });
    const text = pom(name, dependency);
    artifacts[name] = { jar, pom: text };
    const base = `/maven2/${GROUP}/${name}/1.0/${name}-1.0`;
    files.set(`${base}.jar`, jar);
    files.set(`${base}.jar.sha1`, new TextEncoder().encode(sha1(jar)));
    files.set(`${base}.pom`, new TextEncoder().encode(text));
    files.set(`${base}.pom.sha1`, new TextEncoder().encode(sha1(text)));
  }
  repository = startRepository(files);
  peer = await spawnPeer({
    name: "maven",
    extra: ["--proxy.rules", JSON.stringify([{ regex: "blobs/sha256.*" }, { regex: "\\.(jar|pom|war)$" }])],
  });
});

afterAll(async () => {
  await peer?.kill();
  await repository?.stop();
});

describe("mvn through the proxy as a repository mirror", () => {
  test("resolves an artifact and its dependency with checksums; a second clean resolve is served from the peer", async () => {
    const root = project("hello");
    const first = join(dir, "m2-first");
    const result = await mvn(root, first);
    expect(result.stdout).toContain("BUILD SUCCESS");
    expect(result.code).toBe(0);
    // Maven fetched through the mirror, from the proxy's address.
    expect(result.stdout).toContain(`Downloaded from libellula: http://127.0.0.1:${peer.proxyPort}/maven2/${GROUP}/hello/1.0/hello-1.0.jar`);
    for (const name of ["hello", "greeting"]) {
      const stored = join(first, GROUP, name, "1.0", `${name}-1.0`);
      expect(sha1(readFileSync(`${stored}.jar`))).toBe(sha1(artifacts[name]!.jar));
      expect(readFileSync(`${stored}.pom`, "utf8")).toBe(artifacts[name]!.pom);
      // The checksum files came through too (forwarded: they match no rule).
      expect(existsSync(`${stored}.jar.sha1`)).toBe(true);
    }
    // jars and poms went through P2P tasks; .sha1 files were forwarded.
    expect(await metric(peer.metricsPort, "libellula_proxy_requests_total", { type: "p2p" })).toBeGreaterThanOrEqual(4);
    expect(await metric(peer.metricsPort, "libellula_proxy_requests_total", { type: "forward" })).toBeGreaterThanOrEqual(4);
    const jarPath = `/maven2/${GROUP}/hello/1.0/hello-1.0.jar`;
    const jarSize = artifacts.hello!.jar.length;
    expect(repository.sent(jarPath)).toBeGreaterThanOrEqual(jarSize);
    expect(repository.sent(jarPath)).toBeLessThanOrEqual(jarSize + 16);
    const sentAfterFirst = repository.sent(jarPath);

    // A clean local repository: Maven downloads everything again, the peer serves the jars from its storage.
    const second = join(dir, "m2-second");
    const again = await mvn(root, second);
    expect(again.code).toBe(0);
    expect(sha1(readFileSync(join(second, GROUP, "hello", "1.0", "hello-1.0.jar")))).toBe(sha1(artifacts.hello!.jar));
    expect(repository.sent(jarPath)).toBe(sentAfterFirst);
    expect(await metric(peer.metricsPort, "libellula_download_traffic_bytes_total", { type: "local_peer" })).toBeGreaterThanOrEqual(jarSize);
  });

  test("a missing artifact reaches Maven as not found, and the proxy keeps serving", async () => {
    const root = project("absent");
    const result = await mvn(root, join(dir, "m2-missing"));
    expect(result.code).not.toBe(0);
    // "Could not find" is Maven's word for a 404; a 5xx or a broken transfer reads "Could not transfer".
    expect(result.stdout).toContain(`Could not find artifact org.libellula.demo:absent:jar:1.0 in libellula (http://127.0.0.1:${peer.proxyPort}/maven2)`);
    expect(result.stdout).not.toContain("Could not transfer");
    expect(repository.requests(`/maven2/${GROUP}/absent/1.0/absent-1.0.pom`)).toBeGreaterThanOrEqual(1);
    expect(repository.requests(`/maven2/${GROUP}/absent/1.0/absent-1.0.jar`)).toBeGreaterThanOrEqual(1);
    const ok = await mvn(project("greeting"), join(dir, "m2-after"));
    expect(ok.code).toBe(0);
  });
});
