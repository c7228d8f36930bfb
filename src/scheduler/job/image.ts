/**
 * Image preheat: a manifest URL becomes the blob URLs of one platform (layers and config), with the
 * registry's bearer-token auth followed and the token refreshed when it expires.
 */
import { InvalidArgument, SourceError } from "../../common/errors.ts";

/** Image manifest URL form: scheme://registry/v2/<repo>/manifests/<ref>. */
export const MANIFEST_URL = /^(.*):\/\/(.*)\/v2\/(.*)\/manifests\/(.*)$/;
/** Platform picked from a manifest list or OCI index when none is given. */
export const DEFAULT_PLATFORM = "linux/amd64";
/** Manifest media types asked for, most specific first. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
  "application/vnd.docker.distribution.manifest.v1+json",
].join(", ");
/** A token is renewed this long before it expires. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** Token lifetime assumed when the token endpoint gives none (the distribution spec's default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Nested manifest lists followed at most. */
const MAX_MANIFEST_DEPTH = 4;

/** The parts of a manifest URL. */
export interface ImageReference {
  scheme: string;
  registry: string;
  repository: string;
  reference: string;
}

/** Parses a manifest URL; throws InvalidArgument on any other form. */
export function parseManifestUrl(url: string): ImageReference {
  const match = MANIFEST_URL.exec(url);
  if (!match) throw new InvalidArgument(`Invalid image manifest URL "${url}": must look like scheme://registry/v2/<repo>/manifests/<ref>`);
  return { scheme: match[1]!, registry: match[2]!, repository: match[3]!, reference: match[4]! };
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = platform.split("/");
  if (!os || !architecture) throw new InvalidArgument(`Invalid platform "${platform}": must be os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** Parses a `WWW-Authenticate` header into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g;
  for (let m = re.exec(header.slice(space + 1)); m; m = re.exec(header.slice(space + 1))) params[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? "";
  return { scheme, params };
}

/** Options of RegistryAuth. */
export interface RegistryAuthOptions {
  repository: string;
  username?: string;
  password?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** The Authorization header for one repository: Basic, or a bearer token fetched and renewed on expiry. */
export class RegistryAuth {
  private challenge: { scheme: string; params: Record<string, string> } | undefined;
  private token: { value: string; expiresAt: number } | undefined;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: RegistryAuthOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Whether a challenge was seen, so that a header can be produced. */
  get challenged(): boolean {
    return this.challenge !== undefined;
  }

  /** Remembers the challenge of a 401 answer; false when it offers nothing usable. */
  accept(response: Response): boolean {
    const header = response.headers.get("www-authenticate");
    if (!header) return false;
    const challenge = parseChallenge(header);
    if (challenge.scheme !== "bearer" && challenge.scheme !== "basic") return false;
    this.challenge = challenge;
    this.token = undefined;
    return true;
  }

  /** The Authorization header value, or undefined when the registry asked for none. */
  async header(now = Date.now()): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    const { username, password } = this.options;
    if (challenge.scheme === "basic") return username !== undefined ? `Basic ${btoa(`${username}:${password ?? ""}`)}` : undefined;
    if (this.token && this.token.expiresAt - TOKEN_EXPIRY_MARGIN_MS > now) return `Bearer ${this.token.value}`;
    const realm = challenge.params.realm;
    if (!realm) throw new SourceError(`Cannot authenticate with the registry: bearer challenge without a realm`, 401);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", challenge.params.scope || `repository:${this.options.repository}:pull`);
    url.searchParams.set("client_id", "libellula");
    const headers: Record<string, string> = {};
    if (username !== undefined) headers.authorization = `Basic ${btoa(`${username}:${password ?? ""}`)}`;
    const response = await this.fetch(url, { headers, signal: this.options.signal });
    if (!response.ok) {
      throw new SourceError(`Cannot get a registry token from "${url.origin}${url.pathname}": status ${response.status}`, response.status);
    }
    const body = (await response.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const value = body.token || body.access_token;
    if (!value) throw new SourceError(`Cannot get a registry token from "${url.origin}${url.pathname}": no token in the answer`, response.status);
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, now) : now;
    this.token = { value, expiresAt: start + (body.expires_in || DEFAULT_TOKEN_LIFETIME_S) * 1000 };
    return `Bearer ${value}`;
  }
}

/** What an image preheat downloads. */
export interface ResolvedImage {
  /** Blob URLs: the config, then the layers, without duplicates. */
  urls: string[];
  /** The headers for each blob download; Authorization is refreshed by `headers()` when a token expires. */
  headers(): Promise<Record<string, string>>;
}

/** Options of resolveImage. */
export interface ResolveImageOptions {
  url: string;
  headers?: Record<string, string>;
  username?: string;
  password?: string;
  platform?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

interface ManifestJson {
  mediaType?: string;
  schemaVersion?: number;
  manifests?: { digest: string; mediaType?: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
  config?: { digest: string };
  layers?: { digest: string }[];
  fsLayers?: { blobSum: string }[];
}

/** Fetches the manifest (following a list/index to the platform's entry) and returns the blob URLs. */
export async function resolveImage(options: ResolveImageOptions): Promise<ResolvedImage> {
  const ref = parseManifestUrl(options.url);
  const platform = parsePlatform(options.platform || DEFAULT_PLATFORM);
  const doFetch = options.fetch ?? fetch;
  const given = { ...(options.headers ?? {}) };
  const givenAuth = Object.keys(given).find((k) => k.toLowerCase() === "authorization");
  const auth = new RegistryAuth({ repository: ref.repository, username: options.username, password: options.password, fetch: doFetch, signal: options.signal });
  const base = `${ref.scheme}://${ref.registry}/v2/${ref.repository}`;

  async function get(url: string): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...given, accept: MANIFEST_ACCEPT };
      if (!givenAuth) {
        const header = await auth.header();
        if (header) headers.authorization = header;
      }
      const response = await doFetch(url, { headers, signal: options.signal });
      if (response.status === 401 && !givenAuth && attempt === 0 && auth.accept(response)) {
        await response.body?.cancel();
        continue;
      }
      return response;
    }
  }

  async function manifest(reference: string, depth: number): Promise<ManifestJson> {
    const url = `${base}/manifests/${reference}`;
    const response = await get(url);
    if (!response.ok) {
      await response.body?.cancel();
      throw new SourceError(`Cannot get the image manifest "${url}": status ${response.status}`, response.status);
    }
    let body: ManifestJson;
    try {
      body = (await response.json()) as ManifestJson;
    } catch (cause) {
      throw new SourceError(`Cannot get the image manifest "${url}": not JSON`, response.status, {}, { cause });
    }
    if (typeof body !== "object" || body === null) throw new SourceError(`Cannot get the image manifest "${url}": not a manifest`, response.status);
    if (Array.isArray(body.manifests)) {
      if (depth >= MAX_MANIFEST_DEPTH) throw new SourceError(`Cannot get the image manifest "${url}": manifest lists nest too deep`, 200);
      const entry = body.manifests.find(
        (m) =>
          m.platform?.os === platform.os &&
          m.platform?.architecture === platform.architecture &&
          (platform.variant === undefined || m.platform?.variant === platform.variant),
      );
      if (!entry) {
        const wanted = [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
        throw new SourceError(`Cannot preheat image "${options.url}": no matching manifest for platform "${wanted}"`, 200);
      }
      return manifest(entry.digest, depth + 1);
    }
    return body;
  }

  const resolved = await manifest(ref.reference, 0);
  const digests: string[] = [];
  if (resolved.config?.digest) digests.push(resolved.config.digest);
  for (const layer of resolved.layers ?? []) if (layer?.digest) digests.push(layer.digest);
  for (const layer of resolved.fsLayers ?? []) if (layer?.blobSum) digests.push(layer.blobSum);
  if (digests.length === 0) throw new SourceError(`Cannot preheat image "${options.url}": the manifest lists no blobs`, 200);
  return {
    urls: [...new Set(digests)].map((d) => `${base}/blobs/${d}`),
    async headers() {
      const headers = { ...given };
      if (!givenAuth) {
        const header = await auth.header();
        if (header) headers.Authorization = header;
      }
      return headers;
    },
  };
}
