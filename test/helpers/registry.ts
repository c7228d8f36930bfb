/**
 * A real OCI registry for end-to-end tests: Debian's `docker-registry` on 127.0.0.1 with a generated config
 * (optionally htpasswd or token auth, optionally TLS), images built here as OCI layouts, and `skopeo` to copy
 * them. Blob bytes served are counted from the registry's own JSON log.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import { SignJWT, importPKCS8 } from "jose";
import { freePort, tempDir, waitFor } from "./processes.ts";

/** A registry account. */
export interface Account {
  username: string;
  password: string;
}

/** A running registry. */
export interface Registry extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  host: string;
  /** `http://127.0.0.1:<port>` (https when TLS). */
  url: string;
  /** Body bytes the registry wrote for GETs of a blob digest (all repositories). */
  blobBytes(digest: string): number;
  /** GET requests the registry answered for a blob digest. */
  blobGets(digest: string): number;
  output(): string;
  stop(): Promise<void>;
}

/** Options of startRegistry(). */
export interface RegistryOptions {
  auth?: { kind: "htpasswd"; accounts: Account[] } | { kind: "token"; accounts: Account[] };
  tls?: { certPem: string; keyPem: string };
}

/** A token server of the registry's token auth. */
interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  rootCertPath: string;
  stop(): Promise<void>;
}

/** A self-signed RSA certificate (no extended key usage, so Go accepts it for any purpose). */
export function selfSignedCertificate(commonName: string, altNames: { dns?: string[]; ips?: string[] } = {}, ca = false) {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `0${randomBytes(8).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * 86_400_000);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer([{ name: "commonName", value: commonName }]);
  const names = [
    ...(altNames.dns ?? []).map((value) => ({ type: 2, value })),
    ...(altNames.ips ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: "basicConstraints", cA: ca },
    ...(names.length > 0 ? [{ name: "subjectAltName", altNames: names }] : []),
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keys.privateKey))),
    der: Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary"),
  };
}

function basicAccount(header: string | null, accounts: Account[]): Account | undefined {
  if (!header?.startsWith("Basic ")) return undefined;
  const [user, ...rest] = Buffer.from(header.slice(6), "base64").toString().split(":");
  const password = rest.join(":");
  return accounts.find((a) => a.username === user && a.password === password);
}

/** Starts a token server that grants pull/push to known accounts and nothing to anyone else. */
function startTokenServer(dir: string, accounts: Account[]): TokenServer {
  const signer = selfSignedCertificate("libellula-test-token-signer");
  const rootCertPath = join(dir, "token-root.pem");
  writeFileSync(rootCertPath, signer.certPem);
  const service = "libellula-test-registry";
  const issuer = "libellula-test-issuer";
  const keyPromise = importPKCS8(signer.keyPem, "RS256");
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const account = basicAccount(request.headers.get("authorization"), accounts);
      if (request.headers.get("authorization") && !account) return new Response("bad credentials", { status: 401 });
      const access = account
        ? url.searchParams.getAll("scope").flatMap((scope) => {
            const [type, name, actions] = scope.split(":");
            return type && name && actions ? [{ type, name, actions: actions.split(",") }] : [];
          })
        : [];
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ access })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", x5c: [signer.der.toString("base64")] })
        .setIssuer(issuer)
        .setSubject(account?.username ?? "")
        .setAudience(service)
        .setIssuedAt(now - 5)
        .setNotBefore(now - 5)
        .setExpirationTime(now + 600)
        .setJti(randomBytes(8).toString("hex"))
        .sign(await keyPromise);
      return Response.json({ token, access_token: token, expires_in: 600, issued_at: new Date().toISOString() });
    },
  });
  return { realm: `http://127.0.0.1:${server.port}/token`, service, issuer, rootCertPath, stop: async () => void (await server.stop(true)) };
}

/** Starts docker-registry on a free loopback port. */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = tempDir("libellula-registry-");
  const port = await freePort();
  const lines = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  formatter: json",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "http:",
    `  addr: 127.0.0.1:${port}`,
  ];
  if (options.tls) {
    writeFileSync(join(dir, "tls.crt"), options.tls.certPem);
    writeFileSync(join(dir, "tls.key"), options.tls.keyPem);
    lines.push("  tls:", `    certificate: ${join(dir, "tls.crt")}`, `    key: ${join(dir, "tls.key")}`);
  }
  let tokenServer: TokenServer | undefined;
  if (options.auth?.kind === "htpasswd") {
    const entries = await Promise.all(
      options.auth.accounts.map(async (a) => `${a.username}:${await Bun.password.hash(a.password, { algorithm: "bcrypt", cost: 5 })}`),
    );
    writeFileSync(join(dir, "htpasswd"), `${entries.join("\n")}\n`);
    lines.push("auth:", "  htpasswd:", "    realm: libellula-test", `    path: ${join(dir, "htpasswd")}`);
  } else if (options.auth?.kind === "token") {
    tokenServer = startTokenServer(dir, options.auth.accounts);
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${tokenServer.realm}`,
      `    service: ${tokenServer.service}`,
      `    issuer: ${tokenServer.issuer}`,
      `    rootcertbundle: ${tokenServer.rootCertPath}`,
    );
  }
  writeFileSync(join(dir, "config.yml"), `${lines.join("\n")}\n`);
  const child: ChildProcess = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const served = new Map<string, { bytes: number; gets: number }>();
  let partial = "";
  const scan = (chunk: Buffer) => {
    output += chunk.toString();
    const text = partial + chunk.toString();
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (typeof entry.msg !== "string" || !entry.msg.startsWith("response completed")) continue;
        const uri = String(entry["http.request.uri"] ?? "");
        const digest = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(uri)?.[1];
        if (!digest || entry["http.request.method"] !== "GET") continue;
        const count = served.get(digest) ?? { bytes: 0, gets: 0 };
        count.gets++;
        if (Number(entry["http.response.status"]) < 300) count.bytes += Number(entry["http.response.written"] ?? 0);
        served.set(digest, count);
      } catch {
        // Not a log entry.
      }
    }
  };
  child.stdout!.on("data", scan);
  child.stderr!.on("data", scan);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    await tokenServer?.stop();
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`docker-registry exited:\n${output}`);
        const response = await fetch(`${url}/v2/`, { tls: { rejectUnauthorized: false } } as RequestInit).catch(() => undefined);
        return response !== undefined && (response.status === 200 || response.status === 401);
      },
      "docker-registry",
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    blobBytes: (digest) => served.get(digest)?.bytes ?? 0,
    blobGets: (digest) => served.get(digest)?.gets ?? 0,
    output: () => output,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A blob of an image. */
export interface Blob {
  digest: string;
  size: number;
}

/** An OCI image layout built here. */
export interface TestImage {
  /** `oci:<dir>:<tag>` reference for skopeo. */
  reference: string;
  dir: string;
  tag: string;
  manifestDigest: string;
  layers: Blob[];
  config: Blob;
}

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function writeBlob(dir: string, data: Uint8Array | string): Blob {
  const hex = sha256(data);
  writeFileSync(join(dir, "blobs", "sha256", hex), data);
  return { digest: `sha256:${hex}`, size: typeof data === "string" ? Buffer.byteLength(data) : data.length };
}

function tarHeader(name: string, size: number): Uint8Array {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
  field(0, 100, name);
  field(100, 8, "0000644\0");
  field(108, 8, "0000000\0");
  field(116, 8, "0000000\0");
  field(124, 12, `${size.toString(8).padStart(11, "0")}\0`);
  field(136, 12, `${Math.floor(Date.now() / 1000).toString(8).padStart(11, "0")}\0`);
  field(148, 8, "        ");
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** An uncompressed tar holding one file of random bytes. */
export function randomLayer(name: string, size: number): Uint8Array {
  const padded = Math.ceil(size / 512) * 512;
  const tar = new Uint8Array(512 + padded + 1024);
  tar.set(tarHeader(name, size), 0);
  for (let offset = 0; offset < size; offset += 65536) tar.set(randomBytes(Math.min(65536, size - offset)), 512 + offset);
  return tar;
}

/** Builds an OCI image layout with one layer per size (each a tar of random bytes). */
export function buildImage(layerSizes: number[], tag = "v1"): TestImage {
  const dir = tempDir("libellula-image-");
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const tars = layerSizes.map((size, i) => randomLayer(`file-${i}.bin`, size));
  const layers = tars.map((tar) => writeBlob(dir, tar));
  const config = writeBlob(
    dir,
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
      history: layers.map((_, i) => ({ created_by: `layer ${i}` })),
    }),
  );
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l })),
  });
  const manifestBlob = writeBlob(dir, manifest);
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestBlob,
          annotations: { "org.opencontainers.image.ref.name": tag },
        },
      ],
    }),
  );
  return { reference: `oci:${dir}:${tag}`, dir, tag, manifestDigest: manifestBlob.digest, layers, config };
}

/** The manifest digest and blob digests of a pulled OCI layout, each blob's bytes re-hashed. */
export function readLayout(dir: string, tag: string): { manifestDigest: string; blobs: Map<string, string> } {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) ?? index.manifests[0];
  if (!entry) throw new Error(`No manifest in ${dir}`);
  const manifest = JSON.parse(readFileSync(join(dir, "blobs", "sha256", entry.digest.slice(7)), "utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const blobs = new Map<string, string>();
  for (const { digest } of [manifest.config, ...manifest.layers]) {
    blobs.set(digest, `sha256:${sha256(readFileSync(join(dir, "blobs", "sha256", digest.slice(7))))}`);
  }
  return { manifestDigest: entry.digest, blobs };
}

/** Result of a command. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (so servers in this process keep serving). */
export function run(command: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    const clean: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...process.env, ...env })) if (value !== undefined) clean[key] = value;
    execFile(command, args, { env: clean, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A skopeo runner with a permissive signature policy and its own registries.conf. */
export function skopeo(options: { registriesConf?: string; env?: Record<string, string | undefined>; auths?: Record<string, Account> } = {}) {
  const dir = tempDir("libellula-skopeo-");
  const policy = join(dir, "policy.json");
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  const conf = join(dir, "registries.conf");
  writeFileSync(conf, options.registriesConf ?? "");
  // Credentials per host: a mirror gets its own entry, as --src-creds covers only the named registry.
  const auths: Record<string, { auth: string }> = {};
  for (const [host, account] of Object.entries(options.auths ?? {})) {
    auths[host] = { auth: Buffer.from(`${account.username}:${account.password}`).toString("base64") };
  }
  writeFileSync(join(dir, "auth.json"), JSON.stringify({ auths }));
  const env = {
    CONTAINERS_REGISTRIES_CONF: conf,
    REGISTRY_AUTH_FILE: join(dir, "auth.json"),
    HOME: dir,
    HTTP_PROXY: undefined,
    HTTPS_PROXY: undefined,
    http_proxy: undefined,
    https_proxy: undefined,
    NO_PROXY: undefined,
    no_proxy: undefined,
    ...options.env,
  };
  return (args: string[]) => run("skopeo", ["--policy", policy, "--registries-conf", conf, ...args], env);
}

/** A registries.conf that sends pulls of `registry` to `mirror` first (both plain HTTP). */
export function mirrorConf(registry: string, mirror: string): string {
  return `[[registry]]\nlocation = "${registry}"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${mirror}"\ninsecure = true\n`;
}
