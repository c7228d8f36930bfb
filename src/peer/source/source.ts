/** The interface every back-to-source backend implements, and the registry that picks one by URL scheme. */
import { InvalidArgument } from "../../common/errors.ts";

/** Object-storage settings of a Download (s3, gs, oss, obs, cos). */
export interface ObjectStorageOptions {
  region?: string;
  endpoint?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  sessionToken?: string;
  securityToken?: string;
  credentialPath?: string;
  predefinedAcl?: string;
  insecureSkipVerify?: boolean;
}

/** WebHDFS settings of a Download. */
export interface HdfsOptions {
  delegationToken?: string;
}

/** Model-hub settings of a Download (Hugging Face, ModelScope). */
export interface HubOptions {
  token?: string;
  revision?: string;
  baseUrl?: string;
}

/** The backend options a Download (or a ListTaskEntries request) carries. */
export interface SourceOptions {
  objectStorage?: ObjectStorageOptions;
  hdfs?: HdfsOptions;
  huggingFace?: HubOptions;
  modelScope?: HubOptions;
}

/** What a backend needs to reach an object. */
export interface SourceRequest extends SourceOptions {
  url: string;
  header: Record<string, string>;
  signal?: AbortSignal;
}

/** The backend options of a Download or ListTaskEntries request, for a SourceRequest. */
export function sourceOptionsOf(from: SourceOptions): SourceOptions {
  const out: SourceOptions = {};
  if (from.objectStorage) out.objectStorage = from.objectStorage;
  if (from.hdfs) out.hdfs = from.hdfs;
  if (from.huggingFace) out.huggingFace = from.huggingFace;
  if (from.modelScope) out.modelScope = from.modelScope;
  return out;
}

/** Query keys whose values are signatures, tokens or key IDs, never shown in messages. */
const SECRET_QUERY_KEYS = new Set(
  [
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential",
    "signature", "securitytoken", "ossaccesskeyid", "accesskeyid", "x-obs-security-token", "q-signature", "q-ak",
    "x-cos-security-token", "delegation", "token", "access_token", "sig", "api_key", "apikey",
  ],
);

/** A URL fit for messages: the password of its user info and secret query values replaced by "***". */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
  }
  if (parsed.password) parsed.password = "***";
  if (parsed.search) {
    const query = parsed.search
      .slice(1)
      .split("&")
      .map((pair) => {
        const eq = pair.indexOf("=");
        const key = eq < 0 ? pair : pair.slice(0, eq);
        let name = key;
        try {
          name = decodeURIComponent(key);
        } catch {
          // A malformed key is compared as it is.
        }
        return eq >= 0 && SECRET_QUERY_KEYS.has(name.toLowerCase()) ? `${key}=***` : pair;
      })
      .join("&");
    parsed.search = query;
  }
  return parsed.toString();
}

/** Replaces every occurrence of the given secrets in a text by "***". */
export function scrubSecrets(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    out = out.split(secret).join("***");
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join("***");
  }
  return out;
}

/** The secrets a request carries in its backend options and headers. */
export function secretsOf(request: SourceOptions & { header?: Record<string, string> }): string[] {
  const out: string[] = [];
  const storage = request.objectStorage;
  if (storage) {
    for (const value of [storage.accessKeySecret, storage.sessionToken, storage.securityToken]) if (value) out.push(value);
  }
  if (request.hdfs?.delegationToken) out.push(request.hdfs.delegationToken);
  if (request.huggingFace?.token) out.push(request.huggingFace.token);
  if (request.modelScope?.token) out.push(request.modelScope.token);
  for (const [key, value] of Object.entries(request.header ?? {})) {
    const lower = key.toLowerCase();
    if (lower === "authorization" || lower === "cookie" || lower === "proxy-authorization") {
      out.push(value);
      const space = value.indexOf(" ");
      if (space > 0) out.push(value.slice(space + 1));
    }
  }
  return out;
}

/** The size and headers of an object. */
export interface StatResult {
  contentLength: number;
  header: Record<string, string>;
  statusCode: number;
}

/** A byte range. */
export interface ByteRange {
  start: number;
  length: number;
}

/** An open read of an object (or a range of it). */
export interface GetResult {
  body: ReadableStream<Uint8Array>;
  header: Record<string, string>;
  statusCode: number;
}

/** A directory entry of a listing. */
export interface SourceEntry {
  url: string;
  contentLength: number;
  isDir: boolean;
}

/** A back-to-source backend. */
export interface Source {
  /** Size and headers; throws SourceError with the origin's status on failure. */
  stat(request: SourceRequest): Promise<StatResult>;
  /** Reads the object or a range of it; throws SourceError with the origin's status on failure. */
  get(request: SourceRequest & { range?: ByteRange }): Promise<GetResult>;
  /** Lists a directory URL, when the backend has directories. */
  list?(request: SourceRequest): Promise<SourceEntry[]>;
}

/** Backends by URL scheme (without the colon). */
export class SourceRegistry {
  private readonly sources = new Map<string, Source>();

  /** Registers a backend for one or more schemes. */
  register(schemes: string[], source: Source): this {
    for (const scheme of schemes) this.sources.set(scheme, source);
    return this;
  }

  /** The backend of a URL, or InvalidArgument naming the scheme. */
  for(url: string): Source {
    let scheme: string;
    try {
      scheme = new URL(url).protocol.replace(/:$/, "");
    } catch (cause) {
      throw new InvalidArgument(`Invalid URL "${url}": cannot be parsed`, { cause });
    }
    const source = this.sources.get(scheme);
    if (!source) throw new InvalidArgument(`Invalid URL "${url}": unsupported scheme "${scheme}"`);
    return source;
  }
}
