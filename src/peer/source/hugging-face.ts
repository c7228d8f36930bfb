/**
 * Hugging Face: `hf://[models|datasets|spaces/]<owner>/<repo>[/<path>]` read through the hub's resolve
 * endpoint (`{base}/[datasets/|spaces/]{repo}/resolve/{revision}/{path}`, LFS files redirected to their
 * store) and listed through `{base}/api/{type}/{repo}/tree/{revision}/{path}`, page by page.
 */
import { createHubClient, encodePath, entryUrl, parseHubUrl, type HubCall, type HubLocation } from "./hub.ts";
import type { ByteRange, GetResult, Source, SourceEntry, SourceRequest, StatResult } from "./source.ts";

/** Hugging Face's default endpoint and revision. */
export const HUGGING_FACE_DEFAULTS = { baseUrl: "https://huggingface.co", revision: "main" } as const;
const TYPES = ["models", "datasets", "spaces"] as const;
const MAX_PAGES = 1000;

interface TreeEntry {
  type: string;
  path: string;
  size?: number;
  lfs?: { size?: number };
}

/** Parses an hf:// URL. */
export function parseHuggingFaceUrl(url: string): HubLocation {
  return parseHubUrl(url, "hf", TYPES);
}

function settings(request: SourceRequest) {
  const hub = request.huggingFace ?? {};
  return {
    base: (hub.baseUrl || HUGGING_FACE_DEFAULTS.baseUrl).replace(/\/+$/, ""),
    revision: hub.revision || HUGGING_FACE_DEFAULTS.revision,
    token: hub.token || undefined,
  };
}

/** The resolve URL of a file. */
export function resolveUrl(url: string, base: string = HUGGING_FACE_DEFAULTS.baseUrl, revision: string = HUGGING_FACE_DEFAULTS.revision): string {
  const location = parseHuggingFaceUrl(url);
  const type = location.type === "models" ? "" : `${location.type}/`;
  return `${base}/${type}${location.owner}/${location.repo}/resolve/${encodeURIComponent(revision)}/${encodePath(location.path)}`;
}

/** Creates the Hugging Face backend. */
export function createHuggingFaceSource(): Source {
  const hub = createHubClient();
  const fileCall = (request: SourceRequest): HubCall => {
    const { base, revision, token } = settings(request);
    const location = parseHuggingFaceUrl(request.url);
    const label = `"${request.url}" (revision "${revision}")`;
    if (!location.path || location.path.endsWith("/")) throw hub.fail({ request, target: "", token, label }, "read", 400, "the URL names a directory, not a file");
    return { request, target: resolveUrl(request.url, base, revision), token, label };
  };
  return {
    stat: (request: SourceRequest): Promise<StatResult> => hub.stat(fileCall(request)),
    get: (request: SourceRequest & { range?: ByteRange }): Promise<GetResult> => hub.get(fileCall(request), request.range),
    async list(request: SourceRequest): Promise<SourceEntry[]> {
      const { base, revision, token } = settings(request);
      const location = parseHuggingFaceUrl(request.url);
      const dir = location.path.replace(/\/+$/, "");
      let target: string | undefined =
        `${base}/api/${location.type}/${location.owner}/${location.repo}/tree/${encodeURIComponent(revision)}${dir ? `/${encodePath(dir)}` : ""}`;
      const entries: SourceEntry[] = [];
      for (let page = 0; target && page < MAX_PAGES; page++) {
        const { body, response }: { body: TreeEntry[]; response: Response } = await hub.json<TreeEntry[]>({ request, target, token, label: `"${request.url}" (revision "${revision}")` });
        for (const entry of Array.isArray(body) ? body : []) {
          const isDir = entry.type === "directory";
          entries.push({ url: entryUrl(location, entry.path, isDir), contentLength: isDir ? 0 : Number(entry.lfs?.size ?? entry.size ?? 0), isDir });
        }
        const next: string | undefined = /<([^>]+)>;\s*rel="?next"?/.exec(response.headers.get("link") ?? "")?.[1];
        target = next ? new URL(next, target).toString() : undefined;
      }
      return entries;
    },
  };
}
