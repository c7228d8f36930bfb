/** The http(s) backend: stat by a one-byte ranged GET, ranged reads, redirects followed, headers passed through. */
import { SourceError, errorMessage } from "../../common/errors.ts";
import { rangedGet, socketPathApplies } from "./http-range.ts";
import type { FetchLike } from "./redirects.ts";
import { redactUrl, type ByteRange, type GetResult, type Source, type SourceRequest, type StatResult } from "./source.ts";

function headersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

function requestHeaders(header: Record<string, string>, range?: string): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(header)) {
    const lower = key.toLowerCase();
    if (lower === "range" || lower === "host" || lower === "content-length" || lower === "connection") continue;
    headers.set(key, value);
  }
  // Sizes and ranges are of the stored bytes, so ask for them unencoded.
  if (!headers.has("accept-encoding")) headers.set("accept-encoding", "identity");
  if (range) headers.set("range", range);
  return headers;
}

async function originError(url: string, response: Response): Promise<SourceError> {
  let detail = "";
  try {
    detail = (await response.text())
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, " ")
      .replace(/<[^>]+>/g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 200);
  } catch {
    // The body is only detail for the message.
  }
  return new SourceError(
    `Origin "${redactUrl(url)}" answered ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${detail ? `: ${detail}` : ""}`,
    response.status,
    headersOf(response),
  );
}

async function sendWith(url: string, init: RequestInit, fetcher?: FetchLike): Promise<Response> {
  try {
    return fetcher ? await fetcher(url, init) : await fetch(url, { ...init, redirect: "follow" });
  } catch (cause) {
    if ((cause as Error).name === "AbortError") throw cause;
    throw new SourceError(`Cannot reach origin "${redactUrl(url)}": ${errorMessage(cause)}`, undefined, {}, { cause });
  }
}

/** The origin answered a ranged request with the whole object. */
export class RangeNotSupported extends SourceError {}

/** Options of createHttpSource(). */
export interface HttpSourceOptions {
  /** The fetch to use; by default the global one, following redirects. */
  fetch?: FetchLike;
  /**
   * Ranged reads of plain-http origins over a bare socket, falling back to fetch for anything unusual
   * (default: on unless `fetch` is given).
   */
  socketRanges?: boolean;
}

/** Creates the http(s) backend. */
export function createHttpSource(options: HttpSourceOptions = {}): Source {
  const send = (url: string, init: RequestInit) => sendWith(url, init, options.fetch);
  const socketRanges = options.socketRanges ?? options.fetch === undefined;
  return {
    async stat({ url, header, signal }: SourceRequest): Promise<StatResult> {
      let response = await send(url, { headers: requestHeaders(header, "bytes=0-0"), signal });
      if (response.status === 416) {
        await response.body?.cancel();
        response = await send(url, { method: "HEAD", headers: requestHeaders(header), signal });
      }
      if (response.status >= 400) throw await originError(url, response);
      const responseHeader = headersOf(response);
      await response.body?.cancel().catch(() => {});
      let length: number | undefined;
      const contentRange = response.headers.get("content-range");
      if (response.status === 206 && contentRange) {
        const total = /\/(\d+)\s*$/.exec(contentRange)?.[1];
        if (total !== undefined) length = Number(total);
      } else if (response.headers.get("content-length") !== null) {
        length = Number(response.headers.get("content-length"));
      }
      if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
        const head = await send(url, { method: "HEAD", headers: requestHeaders(header), signal });
        await head.body?.cancel().catch(() => {});
        const value = head.headers.get("content-length");
        if (head.ok && value !== null && Number.isSafeInteger(Number(value))) length = Number(value);
      }
      if (length === undefined) {
        throw new SourceError(`Origin "${redactUrl(url)}" did not report a content length`, response.status, responseHeader);
      }
      delete responseHeader["content-range"];
      responseHeader["content-length"] = String(length);
      return { contentLength: length, header: responseHeader, statusCode: response.status === 206 ? 200 : response.status };
    },

    async get({ url, header, signal, range }: SourceRequest & { range?: ByteRange }): Promise<GetResult> {
      const rangeHeader = range ? `bytes=${range.start}-${range.start + range.length - 1}` : undefined;
      if (range && range.length > 0 && socketRanges) {
        const target = new URL(url);
        if (socketPathApplies(target)) {
          const direct = await rangedGet(target, requestHeaders(header), range, signal ?? undefined);
          if (direct) return { body: direct.body, header: direct.header, statusCode: direct.status };
        }
      }
      const response = await send(url, { headers: requestHeaders(header, rangeHeader), signal });
      if (response.status >= 400) throw await originError(url, response);
      if (range && response.status !== 206) {
        await response.body?.cancel().catch(() => {});
        throw new RangeNotSupported(
          `Origin "${redactUrl(url)}" ignored the range "${rangeHeader}" (answered ${response.status})`,
          response.status,
          headersOf(response),
        );
      }
      if (!response.body) throw new SourceError(`Origin "${redactUrl(url)}" sent no body`, response.status, headersOf(response));
      return { body: response.body, header: headersOf(response), statusCode: response.status };
    },
  };
}
