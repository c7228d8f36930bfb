/**
 * Object storage through the S3 API (`s3://bucket/key`, and `gs`, `oss`, `obs`, `cos` through their
 * S3-compatible endpoints). Reads use presigned URLs (so ranges and errors are plain HTTP); listings use
 * ListObjectsV2 with a "/" delimiter. Secrets never reach a message.
 */
import { SourceError, errorMessage } from "../../common/errors.ts";
import { RangeNotSupported } from "./http.ts";
import {
  scrubSecrets,
  secretsOf,
  type ByteRange,
  type GetResult,
  type ObjectStorageOptions,
  type Source,
  type SourceEntry,
  type SourceRequest,
  type StatResult,
} from "./source.ts";

/** The schemes this backend serves. */
export const OBJECT_STORAGE_SCHEMES = ["s3", "gs", "oss", "obs", "cos"] as const;

const PRESIGN_EXPIRES_SECONDS = 3600;
const DEFAULT_REGION = "us-east-1";

/** Default endpoints of the S3-compatible APIs of each store, by region. */
const DEFAULT_ENDPOINTS: Record<string, ((region: string) => string) | undefined> = {
  gs: () => "https://storage.googleapis.com",
  oss: (region) => `https://oss-${region}.aliyuncs.com`,
  obs: (region) => `https://obs.${region}.myhuaweicloud.com`,
  cos: (region) => `https://cos.${region}.myqcloud.com`,
};

/** HTTP statuses of S3 error codes, for errors that come without one (listings). */
const STATUS_OF_CODE: Record<string, number> = {
  NoSuchKey: 404,
  NoSuchBucket: 404,
  NotFound: 404,
  AccessDenied: 403,
  InvalidAccessKeyId: 403,
  SignatureDoesNotMatch: 403,
  ExpiredToken: 400,
  InvalidToken: 400,
  AuthorizationHeaderMalformed: 400,
  InvalidRequest: 400,
  PermanentRedirect: 301,
};

/** The parts of an object-storage URL. */
export interface ObjectLocation {
  scheme: string;
  bucket: string;
  key: string;
}

/** Parses `<scheme>://<bucket>/<key>`; the key is percent-decoded. */
export function parseObjectUrl(url: string): ObjectLocation {
  const match = /^([a-z0-9]+):\/\/([^/?#]+)\/?([^?#]*)/i.exec(url);
  if (!match) throw new SourceError(`Invalid object storage URL "${url}": expected "<scheme>://<bucket>/<key>"`, 400);
  let key = match[3] ?? "";
  try {
    key = decodeURIComponent(key);
  } catch {
    // A key with a stray "%" is used as written.
  }
  return { scheme: match[1]!.toLowerCase(), bucket: match[2]!, key };
}

function objectUrl(scheme: string, bucket: string, key: string): string {
  return `${scheme}://${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** An endpoint with `https://` added when it names no scheme. */
export function withScheme(endpoint: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
}

function clientFor(location: ObjectLocation, options: ObjectStorageOptions = {}): Bun.S3Client {
  const region = options.region || DEFAULT_REGION;
  const vendorEndpoint = DEFAULT_ENDPOINTS[location.scheme];
  const endpoint = options.endpoint ? withScheme(options.endpoint) : vendorEndpoint?.(region);
  return new Bun.S3Client({
    bucket: location.bucket,
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(options.accessKeyId ? { accessKeyId: options.accessKeyId } : {}),
    ...(options.accessKeySecret ? { secretAccessKey: options.accessKeySecret } : {}),
    ...(options.sessionToken || options.securityToken ? { sessionToken: options.sessionToken || options.securityToken } : {}),
    // The vendors' own endpoints address buckets by host name.
    virtualHostedStyle: !options.endpoint && vendorEndpoint !== undefined,
  });
}

/** The unescaped text of the first `<tag>` of an XML answer. */
export function tagValue(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match?.[1]?.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** A response's headers as a plain record. */
export function headersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/** Creates the object-storage backend. */
export function createObjectStorageSource(): Source {
  const fail = (request: SourceRequest, what: string, status: number | undefined, detail: string, header: Record<string, string> = {}, cause?: unknown) =>
    new SourceError(
      scrubSecrets(`Cannot ${what} "${request.url}": ${detail}`, secretsOf(request)),
      status,
      header,
      cause === undefined ? undefined : { cause },
    );

  const errorOf = async (request: SourceRequest, what: string, response: Response): Promise<SourceError> => {
    let body = "";
    try {
      body = await response.text();
    } catch {
      // The body is only detail.
    }
    const code = tagValue(body, "Code");
    const message = tagValue(body, "Message");
    const region = tagValue(body, "Region");
    let detail = `${response.status}${code ? ` ${code}` : response.statusText ? ` ${response.statusText}` : ""}`;
    if (message) detail += `: ${message}`;
    if (region && !message?.includes(region)) detail += ` (the bucket is in region "${region}")`;
    return fail(request, what, response.status, detail, headersOf(response));
  };

  const send = async (request: SourceRequest, what: string, method: "GET" | "HEAD", range?: string): Promise<Response> => {
    const location = parseObjectUrl(request.url);
    if (!location.key || location.key.endsWith("/")) throw fail(request, what, 400, "the URL names a directory, not an object");
    let signed: string;
    try {
      signed = clientFor(location, request.objectStorage).presign(location.key, { method, expiresIn: PRESIGN_EXPIRES_SECONDS });
    } catch (cause) {
      throw fail(request, what, undefined, `cannot sign the request: ${errorMessage(cause)}`, {}, cause);
    }
    const headers: Record<string, string> = {};
    if (range) headers.range = range;
    const init: RequestInit & { tls?: { rejectUnauthorized: boolean } } = { method, headers, signal: request.signal };
    if (request.objectStorage?.insecureSkipVerify) init.tls = { rejectUnauthorized: false };
    try {
      return await fetch(signed, init);
    } catch (cause) {
      if ((cause as Error).name === "AbortError") throw cause;
      // The cause may print the signed URL; only its message, scrubbed, is kept.
      throw fail(request, what, undefined, `cannot reach the endpoint: ${errorMessage(cause).replace(/https?:\/\/\S+/g, "<endpoint>")}`);
    }
  };

  return {
    async stat(request: SourceRequest): Promise<StatResult> {
      const response = await send(request, "stat", "HEAD");
      await response.body?.cancel().catch(() => {});
      if (!response.ok) {
        // A HEAD error has no body; a one-byte GET says why.
        const detail = await send(request, "stat", "GET", "bytes=0-0");
        if (!detail.ok) throw await errorOf(request, "stat", detail);
        await detail.body?.cancel().catch(() => {});
        throw fail(request, "stat", response.status, `${response.status} ${response.statusText}`.trim(), headersOf(response));
      }
      const length = Number(response.headers.get("content-length"));
      if (response.headers.get("content-length") === null || !Number.isSafeInteger(length) || length < 0) {
        throw fail(request, "stat", response.status, "no content length in the answer");
      }
      return { contentLength: length, header: headersOf(response), statusCode: 200 };
    },

    async get(request: SourceRequest & { range?: ByteRange }): Promise<GetResult> {
      const range = request.range ? `bytes=${request.range.start}-${request.range.start + request.range.length - 1}` : undefined;
      const response = await send(request, "read", "GET", range);
      if (!response.ok) throw await errorOf(request, "read", response);
      if (range && response.status !== 206) {
        await response.body?.cancel().catch(() => {});
        throw new RangeNotSupported(`Cannot read "${request.url}": the range "${range}" was ignored`, response.status, headersOf(response));
      }
      if (!response.body) throw fail(request, "read", response.status, "no body in the answer");
      return { body: response.body, header: headersOf(response), statusCode: response.status };
    },

    async list(request: SourceRequest): Promise<SourceEntry[]> {
      const location = parseObjectUrl(request.url);
      const prefix = location.key === "" || location.key.endsWith("/") ? location.key : `${location.key}/`;
      const client = clientFor(location, request.objectStorage);
      const entries: SourceEntry[] = [];
      let continuationToken: string | undefined;
      do {
        request.signal?.throwIfAborted();
        let page: Awaited<ReturnType<Bun.S3Client["list"]>>;
        try {
          page = await client.list({ prefix, delimiter: "/", ...(continuationToken ? { continuationToken } : {}) });
        } catch (cause) {
          const code = (cause as { code?: string }).code;
          const status = code ? STATUS_OF_CODE[code] : undefined;
          throw fail(request, "list", status, `${code ? `${code}: ` : ""}${errorMessage(cause)}`, {}, cause);
        }
        for (const object of page.contents ?? []) {
          if (object.key === prefix) continue;
          entries.push({ url: objectUrl(location.scheme, location.bucket, object.key), contentLength: object.size ?? 0, isDir: false });
        }
        for (const common of page.commonPrefixes ?? []) {
          entries.push({ url: objectUrl(location.scheme, location.bucket, common.prefix), contentLength: 0, isDir: true });
        }
        continuationToken = page.isTruncated ? page.nextContinuationToken : undefined;
      } while (continuationToken);
      return entries;
    },
  };
}
