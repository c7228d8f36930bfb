/** What the model-hub backends (Hugging Face, ModelScope) share: hub URLs, and HTTP reads with clear errors. */
import { SourceError, errorMessage } from "../../common/errors.ts";
import { RangeNotSupported } from "./http.ts";
import { createRedirectFetch, type FetchLike } from "./redirects.ts";
import { scrubSecrets, secretsOf, type ByteRange, type GetResult, type SourceRequest, type StatResult } from "./source.ts";

/** A file or directory in a hub repository. */
export interface HubLocation {
  type: string;
  owner: string;
  repo: string;
  /** Path inside the repository, decoded, without a leading slash; ends with "/" for a directory URL. */
  path: string;
  /** The URL up to the repository name (`hf://datasets/owner/repo`), for building entry URLs. */
  prefix: string;
}

/** Parses `<scheme>://[<type>/]<owner>/<repo>[/<path>]`; `types[0]` is the default type. */
export function parseHubUrl(url: string, scheme: string, types: readonly string[]): HubLocation {
  const start = `${scheme}://`;
  const usage = `expected "${start}[${types.join("|")}/]<owner>/<repo>[/<path>]"`;
  if (!url.startsWith(start)) throw new SourceError(`Invalid URL "${url}": ${usage}`, 400);
  const rest = url.slice(start.length).replace(/[?#].*$/, "");
  const parts = rest.split("/");
  let type = types[0]!;
  let consumed = 0;
  if (types.includes(parts[0]!) && parts.length > 2) {
    type = parts[0]!;
    consumed = 1;
  }
  const owner = parts[consumed];
  const repo = parts[consumed + 1];
  if (!owner || !repo) throw new SourceError(`Invalid URL "${url}": ${usage}`, 400);
  let path = parts.slice(consumed + 2).join("/");
  try {
    path = decodeURIComponent(path);
  } catch {
    // A path with a stray "%" is used as written.
  }
  return { type, owner, repo, path, prefix: start + parts.slice(0, consumed + 2).join("/") };
}

/** Percent-encodes each segment of a repository path. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** The URL of an entry of a listing, in the form of the listed URL. */
export function entryUrl(location: HubLocation, path: string, isDir: boolean): string {
  return `${location.prefix}/${encodePath(path.replace(/\/$/, ""))}${isDir ? "/" : ""}`;
}

function headersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

function requestHeaders(header: Record<string, string>, token: string | undefined, range?: string): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(header)) {
    const lower = key.toLowerCase();
    if (lower === "range" || lower === "host" || lower === "content-length" || lower === "connection") continue;
    headers.set(key, value);
  }
  if (token) headers.set("authorization", `Bearer ${token}`);
  if (!headers.has("accept-encoding")) headers.set("accept-encoding", "identity");
  if (range) headers.set("range", range);
  return headers;
}

/** One HTTP exchange of a hub backend: the hub URL to call, and how to name the file in messages. */
export interface HubCall {
  request: SourceRequest;
  /** The hub HTTP URL. */
  target: string;
  token: string | undefined;
  /** Names the object in messages, e.g. `"hf://owner/repo/a.bin" (revision "main")`. */
  label: string;
}

/** HTTP reads against a hub, following redirects (LFS, CDN) without carrying the token off the hub. */
export function createHubClient(fetcher: FetchLike = createRedirectFetch()) {
  const fail = (call: HubCall, what: string, status: number | undefined, detail: string, header: Record<string, string> = {}) =>
    new SourceError(scrubSecrets(`Cannot ${what} ${call.label}: ${detail}`, [...secretsOf(call.request), call.token]), status, header);

  const send = async (call: HubCall, what: string, init: RequestInit): Promise<Response> => {
    let response: Response;
    try {
      response = await fetcher(call.target, { ...init, signal: call.request.signal });
    } catch (cause) {
      if ((cause as Error).name === "AbortError") throw cause;
      throw fail(call, what, undefined, `cannot reach the hub: ${errorMessage(cause).replace(/https?:\/\/\S+/g, "<hub>")}`);
    }
    if (response.ok) return response;
    let detail = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    const code = response.headers.get("x-error-code");
    if (code) detail += ` ${code}`;
    try {
      const text = (await response.text()).trim();
      let message: string | undefined;
      try {
        const body = JSON.parse(text) as { error?: string; message?: string; Message?: string };
        message = body.error ?? body.message ?? body.Message;
      } catch {
        message = text.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200);
      }
      if (message) detail += `: ${message}`;
    } catch {
      // The body is only detail.
    }
    throw fail(call, what, response.status, detail, headersOf(response));
  };

  return {
    fail,

    /** Size by a one-byte ranged GET (the hub redirects LFS files to their store). */
    async stat(call: HubCall): Promise<StatResult> {
      const response = await send(call, "stat", { headers: requestHeaders(call.request.header, call.token, "bytes=0-0") });
      const header = headersOf(response);
      await response.body?.cancel().catch(() => {});
      let length: number | undefined;
      const total = /\/(\d+)\s*$/.exec(response.headers.get("content-range") ?? "")?.[1];
      if (response.status === 206 && total !== undefined) length = Number(total);
      else if (response.headers.get("content-length") !== null) length = Number(response.headers.get("content-length"));
      if (length === undefined || !Number.isSafeInteger(length) || length < 0) throw fail(call, "stat", response.status, "no content length in the answer", header);
      delete header["content-range"];
      header["content-length"] = String(length);
      return { contentLength: length, header, statusCode: 200 };
    },

    /** The object or a range of it. */
    async get(call: HubCall, range?: ByteRange): Promise<GetResult> {
      const rangeHeader = range ? `bytes=${range.start}-${range.start + range.length - 1}` : undefined;
      const response = await send(call, "read", { headers: requestHeaders(call.request.header, call.token, rangeHeader) });
      if (rangeHeader && response.status !== 206) {
        await response.body?.cancel().catch(() => {});
        throw new RangeNotSupported(`Cannot read ${call.label}: the range "${rangeHeader}" was ignored`, response.status, headersOf(response));
      }
      if (!response.body) throw fail(call, "read", response.status, "no body in the answer");
      return { body: response.body, header: headersOf(response), statusCode: response.status };
    },

    /** A JSON API call, with the response for its headers. */
    async json<T>(call: HubCall): Promise<{ body: T; response: Response }> {
      const headers = requestHeaders(call.request.header, call.token);
      headers.set("accept", "application/json");
      const response = await send(call, "list", { headers });
      try {
        return { body: (await response.json()) as T, response };
      } catch (cause) {
        throw fail(call, "list", response.status, `the answer is not JSON: ${errorMessage(cause)}`);
      }
    },
  };
}
