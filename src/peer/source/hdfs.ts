/**
 * HDFS over the WebHDFS REST API: `hdfs://<namenode>[:9870]/<path>` is read with GETFILESTATUS,
 * OPEN (offset and length, redirected by the namenode to a datanode) and LISTSTATUS. A delegation
 * token travels as the `delegation` query parameter and never appears in a message.
 */
import { SourceError, errorMessage } from "../../common/errors.ts";
import { redactUrl, scrubSecrets, secretsOf, type ByteRange, type GetResult, type Source, type SourceEntry, type SourceRequest, type StatResult } from "./source.ts";

/** The namenode's default HTTP port. */
export const DEFAULT_WEBHDFS_PORT = 9870;

interface FileStatus {
  pathSuffix?: string;
  type?: string;
  length?: number;
}

function headersOf(response: Response): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/** The WebHDFS URL of an hdfs:// URL for an operation. */
export function webHdfsUrl(url: string, op: string, params: Record<string, string | number> = {}, delegation?: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== "hdfs:") throw new SourceError(`Invalid HDFS URL "${url}": expected "hdfs://<namenode>[:port]/<path>"`, 400);
  const port = parsed.port || String(DEFAULT_WEBHDFS_PORT);
  const path = parsed.pathname || "/";
  const query = new URLSearchParams({ op });
  for (const [key, value] of Object.entries(params)) query.set(key, String(value));
  if (delegation) query.set("delegation", delegation);
  return `http://${parsed.hostname}:${port}/webhdfs/v1${path}?${query}`;
}

/** Creates the WebHDFS backend. */
export function createHdfsSource(): Source {
  const fail = (request: SourceRequest, what: string, status: number | undefined, detail: string, header: Record<string, string> = {}) =>
    new SourceError(scrubSecrets(`Cannot ${what} "${redactUrl(request.url)}": ${detail}`, secretsOf(request)), status, header);

  const call = async (request: SourceRequest, what: string, op: string, params: Record<string, string | number> = {}): Promise<Response> => {
    let response: Response;
    try {
      // The namenode answers OPEN with a redirect to a datanode, which fetch follows.
      response = await fetch(webHdfsUrl(request.url, op, params, request.hdfs?.delegationToken), { signal: request.signal, redirect: "follow" });
    } catch (cause) {
      if ((cause as Error).name === "AbortError") throw cause;
      throw fail(request, what, undefined, `cannot reach WebHDFS: ${errorMessage(cause).replace(/https?:\/\/\S+/g, "<webhdfs>")}`);
    }
    if (response.ok) return response;
    let detail = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    try {
      const text = await response.text();
      try {
        const remote = (JSON.parse(text) as { RemoteException?: { exception?: string; message?: string } }).RemoteException;
        if (remote) detail = `${response.status} ${remote.exception ?? "RemoteException"}: ${remote.message ?? ""}`.trim();
      } catch {
        if (text.trim()) detail += `: ${text.trim().slice(0, 200)}`;
      }
    } catch {
      // The body is only detail.
    }
    throw fail(request, what, response.status, detail, headersOf(response));
  };

  const status = async (request: SourceRequest): Promise<FileStatus> => {
    const response = await call(request, "stat", "GETFILESTATUS");
    return ((await response.json()) as { FileStatus?: FileStatus }).FileStatus ?? {};
  };

  return {
    async stat(request: SourceRequest): Promise<StatResult> {
      const file = await status(request);
      if (file.type !== "FILE") throw fail(request, "stat", 400, `not a file (type "${file.type ?? "unknown"}")`);
      const length = Number(file.length);
      if (!Number.isSafeInteger(length) || length < 0) throw fail(request, "stat", 500, "no file length in the answer");
      return { contentLength: length, header: { "content-length": String(length) }, statusCode: 200 };
    },

    async get(request: SourceRequest & { range?: ByteRange }): Promise<GetResult> {
      const params: Record<string, number> = request.range ? { offset: request.range.start, length: request.range.length } : {};
      const response = await call(request, "read", "OPEN", params);
      if (!response.body) throw fail(request, "read", response.status, "no body in the answer");
      return { body: response.body, header: headersOf(response), statusCode: request.range ? 206 : 200 };
    },

    async list(request: SourceRequest): Promise<SourceEntry[]> {
      const base = request.url.endsWith("/") ? request.url : `${request.url}/`;
      const response = await call(request, "list", "LISTSTATUS");
      const statuses = ((await response.json()) as { FileStatuses?: { FileStatus?: FileStatus[] } }).FileStatuses?.FileStatus ?? [];
      return statuses
        .filter((s) => s.pathSuffix)
        .map((s) => {
          const isDir = s.type === "DIRECTORY";
          const name = s.pathSuffix!.split("/").map(encodeURIComponent).join("/");
          return { url: `${base}${name}${isDir ? "/" : ""}`, contentLength: isDir ? 0 : Number(s.length ?? 0), isDir };
        });
    },
  };
}
