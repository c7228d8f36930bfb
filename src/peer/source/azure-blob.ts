/**
 * Azure Blob Storage (`abs://container/path`) through its REST API: Get Blob Properties, Get Blob with
 * `x-ms-range`, and List Blobs with a "/" delimiter. The account name is the access key ID and the account
 * key the access key secret (Shared Key authorization); a SAS token in the session token is used instead
 * when given. The endpoint defaults to `https://<account>.blob.core.windows.net`; an endpoint with a path
 * (`http://127.0.0.1:10000/devstoreaccount1`, path-style as emulators and private endpoints use) is kept.
 * Secrets never reach a message.
 */
import { createHmac } from "node:crypto";
import { SourceError, errorMessage } from "../../common/errors.ts";
import { RangeNotSupported } from "./http.ts";
import { headersOf, parseObjectUrl, tagValue, withScheme, type ObjectLocation } from "./object-storage.ts";
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
export const AZURE_BLOB_SCHEMES = ["abs"] as const;

/** The REST API version requested (one every current service and emulator accepts). */
const API_VERSION = "2021-08-06";

/** What Azure error codes mean, for answers that carry no message (HEAD). */
const ERROR_HINTS: Record<string, string> = {
  AuthenticationFailed: "the account key or SAS token was refused",
  AuthorizationFailure: "the credentials do not allow this operation",
  ContainerNotFound: "the container does not exist",
  BlobNotFound: "the blob does not exist",
  ResourceNotFound: "the resource does not exist",
  InvalidRange: "the range is outside the blob",
};

/** Percent-encodes each segment of a blob name, keeping its slashes. */
function encodePath(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

interface Account {
  name: string;
  key?: Buffer;
  sas?: string;
  /** The base URL up to (and without) the container: `https://acct.blob.core.windows.net` or a path-style base. */
  base: URL;
}

function accountOf(request: SourceRequest, fail: (status: number | undefined, detail: string) => SourceError): Account {
  const options: ObjectStorageOptions = request.objectStorage ?? {};
  const sas = (options.sessionToken || options.securityToken || "").replace(/^\?/, "") || undefined;
  let base: URL | undefined;
  if (options.endpoint) {
    try {
      base = new URL(withScheme(options.endpoint).replace(/\/+$/, ""));
    } catch {
      throw fail(400, `the endpoint "${options.endpoint}" is not a URL`);
    }
  }
  let name = options.accessKeyId ?? "";
  if (!name && base) {
    // The account of a path-style endpoint is its first path segment, of a product one its first label.
    name = base.pathname.split("/").filter(Boolean)[0] ?? base.hostname.split(".")[0] ?? "";
  }
  if (!name) throw fail(400, "no storage account: set the access key ID to the account name, or an endpoint naming it");
  base ??= new URL(`https://${name}.blob.core.windows.net`);
  let key: Buffer | undefined;
  if (options.accessKeySecret && !sas) {
    key = Buffer.from(options.accessKeySecret, "base64");
    if (key.length === 0) throw fail(400, "the account key is not base64");
  }
  return { name, base, ...(key ? { key } : {}), ...(sas ? { sas } : {}) };
}

/** The URL of a container or blob with the given query parameters. */
function resourceUrl(account: Account, location: ObjectLocation, query: Record<string, string>): URL {
  const url = new URL(account.base.toString());
  const prefix = url.pathname.replace(/\/+$/, "");
  url.pathname = `${prefix}/${encodeURIComponent(location.bucket)}${location.key ? `/${encodePath(location.key)}` : ""}`;
  const params = new URLSearchParams(account.sas ?? "");
  for (const [name, value] of Object.entries(query)) params.set(name, value);
  url.search = params.toString();
  return url;
}

/** The Shared Key signature of a request (the string-to-sign of API versions 2009-09-19 and later). */
export function sharedKeySignature(
  account: { name: string; key: Buffer },
  method: string,
  url: URL,
  headers: Record<string, string>,
): string {
  const lower: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  const standard = [
    "content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
    "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
  ].map((name) => (name === "content-length" && lower[name] === "0" ? "" : (lower[name] ?? "")));
  const msHeaders = Object.keys(lower)
    .filter((name) => name.startsWith("x-ms-"))
    .sort()
    .map((name) => `${name}:${lower[name]!.trim()}\n`)
    .join("");
  // The encoded URI path, as sent.
  let resource = `/${account.name}${url.pathname}`;
  const params = new Map<string, string[]>();
  url.searchParams.forEach((value, name) => {
    const key = name.toLowerCase();
    params.set(key, [...(params.get(key) ?? []), value]);
  });
  for (const name of [...params.keys()].sort()) resource += `\n${name}:${params.get(name)!.sort().join(",")}`;
  const toSign = `${method}\n${standard.join("\n")}\n${msHeaders}${resource}`;
  return `SharedKey ${account.name}:${createHmac("sha256", account.key).update(toSign, "utf8").digest("base64")}`;
}

/** Creates the Azure Blob Storage backend. */
export function createAzureBlobSource(): Source {
  const failWith = (request: SourceRequest, what: string) => (status: number | undefined, detail: string, header: Record<string, string> = {}) =>
    new SourceError(scrubSecrets(`Cannot ${what} "${request.url}": ${detail}`, secretsOf(request)), status, header);

  const errorOf = async (request: SourceRequest, what: string, response: Response): Promise<SourceError> => {
    let body = "";
    try {
      body = await response.text();
    } catch {
      // The body is only detail.
    }
    const code = tagValue(body, "Code") ?? response.headers.get("x-ms-error-code") ?? undefined;
    const message = tagValue(body, "Message")?.split("\n")[0];
    let detail = `${response.status}${code ? ` ${code}` : response.statusText ? ` ${response.statusText}` : ""}`;
    if (message) detail += `: ${message}`;
    else if (code && ERROR_HINTS[code]) detail += `: ${ERROR_HINTS[code]}`;
    return failWith(request, what)(response.status, detail, headersOf(response));
  };

  const send = async (request: SourceRequest, what: string, method: "GET" | "HEAD", query: Record<string, string>, range?: string, location = parseObjectUrl(request.url)): Promise<Response> => {
    const fail = failWith(request, what);
    const account = accountOf(request, fail);
    const url = resourceUrl(account, location, query);
    const headers: Record<string, string> = { "x-ms-date": new Date().toUTCString(), "x-ms-version": API_VERSION };
    if (range) headers["x-ms-range"] = range;
    if (account.key) headers.authorization = sharedKeySignature({ name: account.name, key: account.key }, method, url, headers);
    const init: RequestInit & { tls?: { rejectUnauthorized: boolean } } = { method, headers, signal: request.signal, redirect: "follow" };
    if (request.objectStorage?.insecureSkipVerify) init.tls = { rejectUnauthorized: false };
    try {
      return await fetch(url, init);
    } catch (cause) {
      if ((cause as Error).name === "AbortError") throw cause;
      // The cause may print the URL with its SAS token; only its message, scrubbed, is kept.
      throw fail(undefined, `cannot reach the endpoint: ${errorMessage(cause).replace(/https?:\/\/\S+/g, "<endpoint>")}`);
    }
  };

  const blobOf = (request: SourceRequest, what: string): ObjectLocation => {
    const location = parseObjectUrl(request.url);
    if (!location.key || location.key.endsWith("/")) throw failWith(request, what)(400, "the URL names a directory, not a blob");
    return location;
  };

  return {
    async stat(request: SourceRequest): Promise<StatResult> {
      const location = blobOf(request, "stat");
      const response = await send(request, "stat", "HEAD", {}, undefined, location);
      await response.body?.cancel().catch(() => {});
      if (!response.ok) {
        // A HEAD error has no body; a one-byte GET says why.
        const detail = await send(request, "stat", "GET", {}, "bytes=0-0", location);
        if (!detail.ok) throw await errorOf(request, "stat", detail);
        await detail.body?.cancel().catch(() => {});
        throw failWith(request, "stat")(response.status, `${response.status} ${response.headers.get("x-ms-error-code") ?? response.statusText}`.trim(), headersOf(response));
      }
      const length = Number(response.headers.get("content-length"));
      if (response.headers.get("content-length") === null || !Number.isSafeInteger(length) || length < 0) {
        throw failWith(request, "stat")(response.status, "no content length in the answer");
      }
      return { contentLength: length, header: headersOf(response), statusCode: 200 };
    },

    async get(request: SourceRequest & { range?: ByteRange }): Promise<GetResult> {
      const location = blobOf(request, "read");
      const range = request.range ? `bytes=${request.range.start}-${request.range.start + request.range.length - 1}` : undefined;
      const response = await send(request, "read", "GET", {}, range, location);
      if (!response.ok) throw await errorOf(request, "read", response);
      if (range && response.status !== 206) {
        await response.body?.cancel().catch(() => {});
        throw new RangeNotSupported(`Cannot read "${request.url}": the range "${range}" was ignored`, response.status, headersOf(response));
      }
      if (!response.body) throw failWith(request, "read")(response.status, "no body in the answer");
      return { body: response.body, header: headersOf(response), statusCode: response.status };
    },

    async list(request: SourceRequest): Promise<SourceEntry[]> {
      const location = parseObjectUrl(request.url);
      const prefix = location.key === "" || location.key.endsWith("/") ? location.key : `${location.key}/`;
      const container = { ...location, key: "" };
      const entries: SourceEntry[] = [];
      const urlOf = (name: string) => `${location.scheme}://${location.bucket}/${encodePath(name)}`;
      let marker = "";
      do {
        request.signal?.throwIfAborted();
        const query: Record<string, string> = { restype: "container", comp: "list", prefix, delimiter: "/" };
        if (marker) query.marker = marker;
        const response = await send(request, "list", "GET", query, undefined, container);
        if (!response.ok) throw await errorOf(request, "list", response);
        const xml = await response.text();
        for (const match of xml.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)) {
          const name = tagValue(match[1]!, "Name");
          if (name === undefined || name === prefix) continue;
          entries.push({ url: urlOf(name), contentLength: Number(tagValue(match[1]!, "Content-Length") ?? 0), isDir: false });
        }
        for (const match of xml.matchAll(/<BlobPrefix>([\s\S]*?)<\/BlobPrefix>/g)) {
          const name = tagValue(match[1]!, "Name");
          if (name !== undefined) entries.push({ url: urlOf(name), contentLength: 0, isDir: true });
        }
        marker = tagValue(xml, "NextMarker") ?? "";
      } while (marker);
      return entries;
    },
  };
}
