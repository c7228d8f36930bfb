/** Requests that bypass P2P: sent to the upstream as they came, streaming both ways. */
import { readFileSync } from "node:fs";
import { InvalidArgument, errorMessage } from "../../common/errors.ts";
import { upstreamRequestHeaders } from "./headers.ts";

/** TLS settings for one upstream. */
export interface UpstreamTls {
  insecureSkipVerify: boolean;
  /** PEM text of extra CA certificates. */
  ca?: string[];
}

/** Reads CA files once; throws InvalidArgument naming the file. */
export function readCaFiles(paths: readonly string[] | undefined): string[] | undefined {
  if (!paths || paths.length === 0) return undefined;
  return paths.map((path) => {
    try {
      return readFileSync(path, "utf8");
    } catch (cause) {
      throw new InvalidArgument(`Cannot read CA file "${path}": ${errorMessage(cause)}`, { cause });
    }
  });
}

/** A request to forward. */
export interface ForwardRequest {
  method: string;
  url: string;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  tls?: UpstreamTls;
  signal?: AbortSignal;
}

/** Sends a request to its upstream unchanged (no redirects followed, no decoding); resolves with the response. */
export function forward(request: ForwardRequest): Promise<Response> {
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  const tls = request.tls && new URL(request.url).protocol === "https:"
    ? { rejectUnauthorized: !request.tls.insecureSkipVerify, ...(request.tls.ca ? { ca: request.tls.ca } : {}) }
    : undefined;
  return fetch(request.url, {
    method: request.method,
    headers: upstreamRequestHeaders(request.headers),
    body: hasBody ? request.body : null,
    // Streams the request body instead of buffering it.
    duplex: "half",
    redirect: "manual",
    decompress: false,
    tls,
    signal: request.signal,
  } as RequestInit);
}
