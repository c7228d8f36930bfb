/**
 * ModelScope: `modelscope://[models|datasets/]<owner>/<repo>[/<path>]` read through the hub's file
 * endpoint (`{base}/api/v1/{type}/{owner}/{repo}/repo?Revision=…&FilePath=…`, which may redirect to
 * object storage) and listed through its file-list endpoints (`Root`, non-recursive).
 */
import { createHubClient, entryUrl, parseHubUrl, type HubCall, type HubLocation } from "./hub.ts";
import type { ByteRange, GetResult, Source, SourceEntry, SourceRequest, StatResult } from "./source.ts";

/** ModelScope's default endpoint and revision. */
export const MODEL_SCOPE_DEFAULTS = { baseUrl: "https://modelscope.cn", revision: "master" } as const;
const TYPES = ["models", "datasets"] as const;
const PAGE_SIZE = 100;
const MAX_PAGES = 1000;

interface FileList {
  Code?: number;
  Message?: string;
  Success?: boolean;
  Data?: { Files?: { Name?: string; Path?: string; Type?: string; Size?: number }[] };
}

/** Parses a modelscope:// URL. */
export function parseModelScopeUrl(url: string): HubLocation {
  return parseHubUrl(url, "modelscope", TYPES);
}

function settings(request: SourceRequest) {
  const hub = request.modelScope ?? {};
  return {
    base: (hub.baseUrl || MODEL_SCOPE_DEFAULTS.baseUrl).replace(/\/+$/, ""),
    revision: hub.revision || MODEL_SCOPE_DEFAULTS.revision,
    token: hub.token || undefined,
  };
}

/** The file endpoint of a file. */
export function fileUrl(url: string, base: string = MODEL_SCOPE_DEFAULTS.baseUrl, revision: string = MODEL_SCOPE_DEFAULTS.revision): string {
  const location = parseModelScopeUrl(url);
  const query = new URLSearchParams({ Revision: revision, FilePath: location.path });
  return `${base}/api/v1/${location.type}/${encodeURIComponent(location.owner)}/${encodeURIComponent(location.repo)}/repo?${query}`;
}

/** Creates the ModelScope backend. */
export function createModelScopeSource(): Source {
  const hub = createHubClient();
  const fileCall = (request: SourceRequest): HubCall => {
    const { base, revision, token } = settings(request);
    const location = parseModelScopeUrl(request.url);
    const label = `"${request.url}" (revision "${revision}")`;
    if (!location.path || location.path.endsWith("/")) throw hub.fail({ request, target: "", token, label }, "read", 400, "the URL names a directory, not a file");
    return { request, target: fileUrl(request.url, base, revision), token, label };
  };
  return {
    stat: (request: SourceRequest): Promise<StatResult> => hub.stat(fileCall(request)),
    get: (request: SourceRequest & { range?: ByteRange }): Promise<GetResult> => hub.get(fileCall(request), request.range),
    async list(request: SourceRequest): Promise<SourceEntry[]> {
      const { base, revision, token } = settings(request);
      const location = parseModelScopeUrl(request.url);
      const root = location.path.replace(/\/+$/, "");
      const repo = `${base}/api/v1/${location.type}/${encodeURIComponent(location.owner)}/${encodeURIComponent(location.repo)}/repo`;
      const label = `"${request.url}" (revision "${revision}")`;
      const entries: SourceEntry[] = [];
      for (let page = 1; page <= MAX_PAGES; page++) {
        const query = new URLSearchParams({ Revision: revision, Root: root, Recursive: "false" });
        if (location.type === "datasets") {
          query.set("PageNumber", String(page));
          query.set("PageSize", String(PAGE_SIZE));
        }
        const call = { request, target: `${repo}/${location.type === "datasets" ? "tree" : "files"}?${query}`, token, label };
        const { body } = await hub.json<FileList>(call);
        if ((body.Code !== undefined && body.Code !== 200) || body.Success === false) {
          throw hub.fail(call, "list", 404, `${body.Code ?? "error"}: ${body.Message ?? "the hub refused the listing"}`);
        }
        const files = body.Data?.Files ?? [];
        for (const file of files) {
          const path = file.Path ?? (root ? `${root}/${file.Name}` : file.Name ?? "");
          if (!path) continue;
          const isDir = file.Type === "tree";
          entries.push({ url: entryUrl(location, path, isDir), contentLength: isDir ? 0 : Number(file.Size ?? 0), isDir });
        }
        if (location.type !== "datasets" || files.length < PAGE_SIZE) break;
      }
      return entries;
    },
  };
}
