import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseChallenge, parseManifestUrl, resolveImage } from "./image.ts";

const REPO = "team/app";
const amd64 = { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: "sha256:c1" }, layers: [{ digest: "sha256:l1" }, { digest: "sha256:l2" }] };
const arm64 = { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: "sha256:c2" }, layers: [{ digest: "sha256:l3" }] };
const index = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    { digest: "sha256:m-arm64", platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    { digest: "sha256:m-amd64", platform: { os: "linux", architecture: "amd64" } },
  ],
};
let tokensIssued = 0;
let tokenLifetime = 600;
const manifestHeaders: Headers[] = [];
let server: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/token") {
        if (request.headers.get("authorization") !== `Basic ${btoa("user:secret")}`) return new Response("denied", { status: 401 });
        expect(url.searchParams.get("scope")).toBe(`repository:${REPO}:pull`);
        expect(url.searchParams.get("service")).toBe("test-registry");
        tokensIssued++;
        return Response.json({ token: `t${tokensIssued}`, expires_in: tokenLifetime });
      }
      const auth = request.headers.get("authorization");
      if (!auth?.startsWith("Bearer t")) {
        return new Response("unauthorized", { status: 401, headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${server.port}/token",service="test-registry"` } });
      }
      manifestHeaders.push(request.headers);
      const ref = url.pathname.slice(`/v2/${REPO}/manifests/`.length);
      const body = ref === "multi" ? index : ref === "sha256:m-amd64" ? amd64 : ref === "sha256:m-arm64" ? arm64 : undefined;
      return body ? Response.json(body) : new Response("unknown", { status: 404 });
    },
  });
});
afterAll(() => server.stop(true));

const base = () => `http://127.0.0.1:${server.port}/v2/${REPO}`;

test("parseManifestUrl() splits a manifest URL and refuses anything else", () => {
  expect(parseManifestUrl("https://r.example/v2/a/b/manifests/1.0")).toEqual({ scheme: "https", registry: "r.example", repository: "a/b", reference: "1.0" });
  expect(() => parseManifestUrl("https://r.example/a/b:1.0")).toThrow("Invalid image manifest URL");
});

test("parseChallenge() reads the scheme and quoted parameters", () => {
  expect(parseChallenge('Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"')).toEqual({
    scheme: "bearer",
    params: { realm: "https://auth/token", service: "reg", scope: "repository:a:pull" },
  });
});

test("resolveImage() follows the token challenge and picks linux/amd64 from an index by default", async () => {
  const image = await resolveImage({ url: `${base()}/manifests/multi`, username: "user", password: "secret" });
  expect(image.urls).toEqual([`${base()}/blobs/sha256:c1`, `${base()}/blobs/sha256:l1`, `${base()}/blobs/sha256:l2`]);
  expect((await image.headers()).Authorization).toMatch(/^Bearer t\d+$/);
  expect(manifestHeaders.at(-1)!.get("accept")).toContain("application/vnd.oci.image.index.v1+json");
});

test("resolveImage() picks the asked platform and variant", async () => {
  const image = await resolveImage({ url: `${base()}/manifests/multi`, username: "user", password: "secret", platform: "linux/arm64/v8" });
  expect(image.urls).toEqual([`${base()}/blobs/sha256:c2`, `${base()}/blobs/sha256:l3`]);
  await expect(resolveImage({ url: `${base()}/manifests/multi`, username: "user", password: "secret", platform: "windows/amd64" })).rejects.toThrow(
    'no matching manifest for platform "windows/amd64"',
  );
});

test("resolveImage() renews an expired token for the blob downloads", async () => {
  tokenLifetime = 1;
  try {
    const image = await resolveImage({ url: `${base()}/manifests/sha256:m-amd64`, username: "user", password: "secret" });
    const first = (await image.headers()).Authorization;
    const issued = tokensIssued;
    const second = (await image.headers()).Authorization;
    // A one-second token is inside the renewal margin: every call gets a fresh one.
    expect(tokensIssued).toBe(issued + 1);
    expect(second).not.toBe(first);
  } finally {
    tokenLifetime = 600;
  }
});

test("resolveImage() uses given headers as they are and reports the registry's status", async () => {
  const image = await resolveImage({ url: `${base()}/manifests/sha256:m-amd64`, headers: { Authorization: "Bearer t-harbor" } });
  expect(await image.headers()).toEqual({ Authorization: "Bearer t-harbor" });
  expect(manifestHeaders.at(-1)!.get("authorization")).toBe("Bearer t-harbor");
  await expect(resolveImage({ url: `${base()}/manifests/v1`, username: "user", password: "wrong" })).rejects.toThrow("status 401");
  await expect(resolveImage({ url: `${base()}/manifests/nope`, username: "user", password: "secret" })).rejects.toThrow(
    `Cannot get the image manifest "${base()}/manifests/nope": status 404`,
  );
});
