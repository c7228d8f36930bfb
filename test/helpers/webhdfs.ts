/**
 * A WebHDFS namenode and datanode for tests, following Hadoop's documented REST calls: GETFILESTATUS,
 * LISTSTATUS, and OPEN answered by the namenode with a 307 to the datanode, which serves offset/length.
 * Errors are RemoteException JSON bodies. Counts the bytes the datanode serves per path.
 */

/** A running WebHDFS pair. */
export interface WebHdfs extends AsyncDisposable {
  /** `hdfs://127.0.0.1:<namenode port>` */
  root: string;
  url(path: string): string;
  add(path: string, data: Uint8Array): void;
  /** Makes the datanode send only the first `bytes` of every read of a path. */
  truncate(path: string, bytes: number): void;
  /** Body bytes the datanode sent for a path. */
  sent(path: string): number;
  /** Every query string the namenode received. */
  queries(): URLSearchParams[];
  stop(): Promise<void>;
}

function remoteException(status: number, exception: string, message: string): Response {
  return Response.json({ RemoteException: { exception, javaClassName: `java.io.${exception}`, message } }, { status });
}

/** Starts a namenode and a datanode on 127.0.0.1; with `delegationToken`, every call must carry it. */
export function startWebHdfs(options: { delegationToken?: string } = {}): WebHdfs {
  const files = new Map<string, Uint8Array>();
  const truncated = new Map<string, number>();
  const sentBytes = new Map<string, number>();
  const seen: URLSearchParams[] = [];
  const isDir = (path: string) => path === "/" || [...files.keys()].some((f) => f.startsWith(`${path.replace(/\/$/, "")}/`));
  const status = (path: string, suffix: string) => {
    const data = files.get(path);
    return {
      accessTime: 0, blockSize: 134217728, childrenNum: 0, fileId: 16386, group: "supergroup",
      length: data ? data.length : 0, modificationTime: 0, owner: "hdfs", pathSuffix: suffix,
      permission: data ? "644" : "755", replication: data ? 3 : 0, storagePolicy: 0, type: data ? "FILE" : "DIRECTORY",
    };
  };
  const checkToken = (query: URLSearchParams): Response | undefined => {
    if (!options.delegationToken) return undefined;
    const token = query.get("delegation");
    if (!token) return remoteException(401, "SecurityException", "Failed to obtain user group information: no delegation token");
    if (token !== options.delegationToken) return remoteException(403, "SecretManager$InvalidToken", "token is expired or doesn't exist");
    return undefined;
  };
  const datanode = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      const path = decodeURIComponent(url.pathname.replace(/^\/webhdfs\/v1/, "")) || "/";
      const denied = checkToken(url.searchParams);
      if (denied) return denied;
      const data = files.get(path);
      if (!data) return remoteException(404, "FileNotFoundException", `File does not exist: ${path}`);
      const offset = Number(url.searchParams.get("offset") ?? 0);
      const length = url.searchParams.has("length") ? Number(url.searchParams.get("length")) : data.length - offset;
      if (offset > data.length) return remoteException(400, "IOException", `Offset=${offset} out of the range [0, ${data.length})`);
      let body = data.subarray(offset, Math.min(data.length, offset + length));
      const cut = truncated.get(path);
      if (cut !== undefined) body = body.subarray(0, cut);
      sentBytes.set(path, (sentBytes.get(path) ?? 0) + body.length);
      return new Response(body as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  const namenode = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      seen.push(url.searchParams);
      if (!url.pathname.startsWith("/webhdfs/v1/")) return new Response("not found", { status: 404 });
      const path = (decodeURIComponent(url.pathname.slice("/webhdfs/v1".length)).replace(/(.)\/$/, "$1")) || "/";
      const op = (url.searchParams.get("op") ?? "").toUpperCase();
      const denied = checkToken(url.searchParams);
      if (denied) return denied;
      if (request.method !== "GET") return remoteException(400, "IllegalArgumentException", `Invalid value for webhdfs parameter "op": ${op}`);
      const exists = files.has(path) || isDir(path);
      if (!exists) return remoteException(404, "FileNotFoundException", `File does not exist: ${path}`);
      switch (op) {
        case "GETFILESTATUS":
          return Response.json({ FileStatus: status(path, "") });
        case "LISTSTATUS": {
          if (files.has(path)) return Response.json({ FileStatuses: { FileStatus: [status(path, "")] } });
          const prefix = path === "/" ? "/" : `${path}/`;
          const names = new Set<string>();
          for (const file of files.keys()) if (file.startsWith(prefix)) names.add(file.slice(prefix.length).split("/")[0]!);
          return Response.json({ FileStatuses: { FileStatus: [...names].sort().map((n) => status(`${prefix}${n}`, n)) } });
        }
        case "OPEN": {
          if (!files.has(path)) return remoteException(404, "FileNotFoundException", `Path is not a file: ${path}`);
          const location = new URL(`http://127.0.0.1:${datanode.port}${url.pathname}`);
          for (const [key, value] of url.searchParams) location.searchParams.set(key, value);
          location.searchParams.set("namenoderpcaddress", `127.0.0.1:${namenode.port}`);
          return new Response(null, { status: 307, headers: { location: location.toString(), "content-length": "0" } });
        }
        default:
          return remoteException(400, "IllegalArgumentException", `Invalid value for webhdfs parameter "op": No enum constant ${op}`);
      }
    },
  });
  const stop = async () => {
    await namenode.stop(true);
    await datanode.stop(true);
  };
  const root = `hdfs://127.0.0.1:${namenode.port}`;
  return {
    root,
    url: (path) => `${root}/${path.replace(/^\//, "")}`,
    add: (path, data) => void files.set(`/${path.replace(/^\//, "")}`, data),
    truncate: (path, bytes) => void truncated.set(`/${path.replace(/^\//, "")}`, bytes),
    sent: (path) => sentBytes.get(`/${path.replace(/^\//, "")}`) ?? 0,
    queries: () => seen,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
