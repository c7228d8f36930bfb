/**
 * Model hubs for tests. A Hugging Face style hub: `resolve/{revision}/{path}` answering small files itself
 * and redirecting LFS files (302, X-Linked-Size) to a separate store that must never see the token, and the
 * paginated `api/{type}/{repo}/tree/{revision}/{path}` listing. A ModelScope style hub: `api/v1/{type}/…/repo`
 * file reads (large files redirected to an object store) and its `repo/files` / `repo/tree` listings.
 */
import { createHash } from "node:crypto";
import { startOrigin, type Origin } from "./origin.ts";

function ranged(data: Uint8Array, request: Request, extra: Record<string, string> = {}): Response {
  const range = request.headers.get("range");
  const size = data.length;
  if (range) {
    const match = /^bytes=(\d+)-(\d*)$/.exec(range);
    const start = Number(match?.[1] ?? 0);
    const end = match?.[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
    if (!match || start >= size) return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
    const body = data.subarray(start, end + 1);
    return new Response(request.method === "HEAD" ? null : (body as Uint8Array<ArrayBuffer>), {
      status: 206,
      headers: { ...extra, "content-range": `bytes ${start}-${end}/${size}`, "content-length": String(body.length) },
    });
  }
  return new Response(request.method === "HEAD" ? null : (data as Uint8Array<ArrayBuffer>), { headers: { ...extra, "content-length": String(size) } });
}

function bodyLength(response: Response): number {
  return Number(response.headers.get("content-length") ?? 0);
}

interface RepoFiles {
  files: Map<string, Uint8Array>;
}

/** Immediate children of a directory of a file map: [name, full path, isDir, size]. */
function children(files: Map<string, Uint8Array>, dir: string): { path: string; isDir: boolean; size: number }[] {
  const prefix = dir ? `${dir}/` : "";
  const out = new Map<string, { path: string; isDir: boolean; size: number }>();
  for (const [path, data] of files) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    const child = `${prefix}${slash < 0 ? rest : rest.slice(0, slash)}`;
    out.set(child, { path: child, isDir: slash >= 0, size: slash >= 0 ? 0 : data.length });
  }
  return [...out.values()].sort((a, b) => a.path.localeCompare(b.path));
}

function storeAuthorizations(store: Origin, paths: Set<string>): number {
  let count = 0;
  for (const path of paths) count += store.headers(path).filter((h) => h.has("authorization")).length;
  return count;
}

/** A running hub. */
export interface HubServer extends AsyncDisposable {
  baseUrl: string;
  /** The store that LFS (or large) files are redirected to. */
  store: Origin;
  /** Adds a file to `[type/]owner/repo` at a revision. */
  add(repo: string, path: string, data: Uint8Array, revision?: string): void;
  /** Body bytes sent for a file, by the hub and the store together. */
  sent(repo: string, path: string, revision?: string): number;
  /** Requests carrying an Authorization header that reached the store. */
  storeAuthorizations(): number;
  stop(): Promise<void>;
}

function createRepos(defaultType: string) {
  const repos = new Map<string, RepoFiles>();
  const key = (repo: string, revision: string) => {
    const parts = repo.split("/");
    const full = parts.length === 3 ? repo : `${defaultType}/${repo}`;
    return `${full}@${revision}`;
  };
  return {
    key,
    get: (repo: string, revision: string) => repos.get(key(repo, revision)),
    add(repo: string, path: string, data: Uint8Array, revision: string) {
      const k = key(repo, revision);
      let entry = repos.get(k);
      if (!entry) repos.set(k, (entry = { files: new Map() }));
      entry.files.set(path, data);
    },
    hasRepo: (repo: string) => [...repos.keys()].some((k) => k.startsWith(`${repo.split("/").length === 3 ? repo : `${defaultType}/${repo}`}@`)),
  };
}

/** Starts a Hugging Face style hub; files of at least `lfsThreshold` bytes are LFS files. */
export function startHuggingFaceHub(options: { token?: string; pageSize?: number; lfsThreshold?: number } = {}): HubServer {
  const repos = createRepos("models");
  const store = startOrigin();
  const hubSent = new Map<string, number>();
  const lfsPaths = new Set<string>();
  const threshold = options.lfsThreshold ?? 1024;
  const pageSize = options.pageSize ?? 1000;
  const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
  const error = (status: number, code: string, message: string) =>
    Response.json({ error: message }, { status, headers: { "x-error-code": code } });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      const path = url.pathname;
      if (options.token && request.headers.get("authorization") !== `Bearer ${options.token}`) {
        return error(401, "RepoNotFound", "Invalid credentials in Authorization header");
      }
      const resolve = /^\/(?:(datasets|spaces)\/)?([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
      if (resolve) {
        const [, type = "models", owner, name, revision, file] = resolve;
        const repo = `${type}/${owner}/${name}`;
        const rev = decodeURIComponent(revision!);
        const filePath = decodeURIComponent(file!);
        if (!repos.hasRepo(repo)) return error(404, "RepoNotFound", "Repository not found");
        const files = repos.get(repo, rev);
        if (!files) return error(404, "RevisionNotFound", `Invalid rev id: ${rev}`);
        const data = files.files.get(filePath);
        if (!data) return error(404, "EntryNotFound", "Entry not found");
        const commit = sha(new TextEncoder().encode(rev)).slice(0, 40);
        if (data.length >= threshold) {
          const digest = sha(data);
          store.add(`/lfs/${digest}`, data);
          lfsPaths.add(`/lfs/${digest}`);
          return new Response(null, {
            status: 302,
            headers: {
              location: `${store.url(`/lfs/${digest}`)}?X-Amz-Signature=${digest.slice(0, 16)}&Expires=${Date.now() + 3600_000}`,
              "x-linked-size": String(data.length),
              "x-linked-etag": `"${digest}"`,
              "x-repo-commit": commit,
            },
          });
        }
        const response = ranged(data, request, { "x-repo-commit": commit, etag: `"${sha(data).slice(0, 40)}"` });
        if (request.method === "GET") hubSent.set(`${repo}@${rev}/${filePath}`, (hubSent.get(`${repo}@${rev}/${filePath}`) ?? 0) + bodyLength(response));
        return response;
      }
      const tree = /^\/api\/(models|datasets|spaces)\/([^/]+)\/([^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(path);
      if (tree) {
        const [, type, owner, name, revision, dir = ""] = tree;
        const repo = `${type}/${owner}/${name}`;
        if (!repos.hasRepo(repo)) return error(404, "RepoNotFound", "Repository not found");
        const files = repos.get(repo, decodeURIComponent(revision!));
        if (!files) return error(404, "RevisionNotFound", `Invalid rev id: ${decodeURIComponent(revision!)}`);
        const all = children(files.files, decodeURIComponent(dir).replace(/\/$/, ""));
        if (dir && all.length === 0) return error(404, "EntryNotFound", `${decodeURIComponent(dir)} does not exist on "${revision}"`);
        const cursor = Number(url.searchParams.get("cursor") ?? 0);
        const page = all.slice(cursor, cursor + pageSize).map((e) => {
          const data = files.files.get(e.path);
          if (e.isDir) return { type: "directory", oid: sha(new TextEncoder().encode(e.path)).slice(0, 40), size: 0, path: e.path };
          const lfs = data && data.length >= threshold ? { lfs: { oid: sha(data), size: data.length, pointerSize: 134 } } : {};
          return { type: "file", oid: sha(data!).slice(0, 40), size: e.size, path: e.path, ...lfs };
        });
        const headers: Record<string, string> = {};
        if (cursor + pageSize < all.length) {
          const next = new URL(url);
          next.searchParams.set("cursor", String(cursor + pageSize));
          headers.link = `<${next.toString()}>; rel="next"`;
        }
        return Response.json(page, { headers });
      }
      return error(404, "NotFound", "Not found");
    },
  });
  const stop = async () => {
    await server.stop(true);
    await store.stop();
  };
  return {
    baseUrl: `http://127.0.0.1:${server.port}`,
    store,
    add: (repo, path, data, revision = "main") => repos.add(repo, path, data, revision),
    sent(repo, path, revision = "main") {
      const full = repo.split("/").length === 3 ? repo : `models/${repo}`;
      const data = repos.get(repo, revision)?.files.get(path);
      const stored = data && data.length >= threshold ? store.sent(`/lfs/${sha(data)}`) : 0;
      return (hubSent.get(`${full}@${revision}/${path}`) ?? 0) + stored;
    },
    storeAuthorizations: () => storeAuthorizations(store, lfsPaths),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Starts a ModelScope style hub; files of at least `redirectThreshold` bytes are redirected to an object store. */
export function startModelScopeHub(options: { token?: string; redirectThreshold?: number } = {}): HubServer {
  const repos = createRepos("models");
  const store = startOrigin();
  const hubSent = new Map<string, number>();
  const storePaths = new Set<string>();
  const threshold = options.redirectThreshold ?? 1024;
  const failure = (status: number, code: number, message: string) => Response.json({ Code: code, Message: message, Success: false }, { status });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (options.token && request.headers.get("authorization") !== `Bearer ${options.token}`) {
        return failure(401, 10010205001, "Unauthorized, please login first");
      }
      const match = /^\/api\/v1\/(models|datasets)\/([^/]+)\/([^/]+)\/repo(?:\/(files|tree))?$/.exec(url.pathname);
      if (!match) return failure(404, 10010205001, "not found");
      const [, type, owner, name, listing] = match;
      const repo = `${type}/${decodeURIComponent(owner!)}/${decodeURIComponent(name!)}`;
      const revision = url.searchParams.get("Revision") ?? "master";
      if (!repos.hasRepo(repo)) return failure(404, 10010205001, `model ${owner}/${name} not exists`);
      const files = repos.get(repo, revision);
      if (!files) return failure(404, 10010205001, `revision ${revision} not exists`);
      if (listing) {
        if ((type === "models") !== (listing === "files")) return failure(404, 10010205001, "not found");
        const root = (url.searchParams.get("Root") ?? "").replace(/\/$/, "");
        let all = children(files.files, root);
        if (type === "datasets") {
          const size = Number(url.searchParams.get("PageSize") ?? 100);
          const number = Number(url.searchParams.get("PageNumber") ?? 1);
          all = all.slice((number - 1) * size, number * size);
        }
        return Response.json({
          Code: 200,
          Data: { Files: all.map((e) => ({ Name: e.path.split("/").pop(), Path: e.path, Type: e.isDir ? "tree" : "blob", Size: e.size, Revision: revision })) },
          Message: "success",
          Success: true,
        });
      }
      const path = url.searchParams.get("FilePath") ?? "";
      const data = files.files.get(path);
      if (!data) return failure(404, 10010205001, `file ${path} not exists`);
      const key = `${repo}@${revision}/${path}`;
      if (data.length >= threshold) {
        const storePath = `/oss/${createHash("sha256").update(key).digest("hex")}`;
        store.add(storePath, data);
        storePaths.add(storePath);
        return new Response(null, { status: 302, headers: { location: `${store.url(storePath)}?OSSAccessKeyId=test&Signature=abc&Expires=9999999999` } });
      }
      const response = ranged(data, request);
      if (request.method === "GET") hubSent.set(key, (hubSent.get(key) ?? 0) + bodyLength(response));
      return response;
    },
  });
  const stop = async () => {
    await server.stop(true);
    await store.stop();
  };
  return {
    baseUrl: `http://127.0.0.1:${server.port}`,
    store,
    add: (repo, path, data, revision = "master") => repos.add(repo, path, data, revision),
    sent(repo, path, revision = "master") {
      const full = repo.split("/").length === 3 ? repo : `models/${repo}`;
      const key = `${full}@${revision}/${path}`;
      return (hubSent.get(key) ?? 0) + store.sent(`/oss/${createHash("sha256").update(key).digest("hex")}`);
    },
    storeAuthorizations: () => storeAuthorizations(store, storePaths),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
