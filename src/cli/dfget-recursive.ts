/**
 * `dfget -r`: lists a directory URL through the daemon (ListTaskEntries, level by level), keeps the files
 * that match --include-files, and downloads each with one DownloadTask, a few at a time, into the same
 * tree under the output directory. A failed file is reported by name; the others are kept.
 */
import { create, clone } from "@bufbuild/protobuf";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { writeAllSync } from "../common/file-write.ts";
import { DownloadSchema, type Download } from "../gen/common/v2/common_pb.ts";
import { ListTaskEntriesRequestSchema } from "../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { connectDaemon, describeRpcError } from "./daemon-client.ts";

/** What a recursive download needs. */
export interface RecursivePlan {
  download: Download;
  output: string;
  transfer: boolean;
  endpoint: string;
  includeFiles: string[];
  maxFiles: number;
  maxConcurrentRequests: number;
  signal: AbortSignal;
  stderr: { write(text: string): unknown };
}

/** A file of the directory: its URL, its path below the directory, its size. */
export interface DirectoryFile {
  url: string;
  path: string;
  contentLength: number;
}

/** A glob (`*`, `**`, `?`, `[…]`, `{a,b}`) as a regular expression over a relative path. */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slash = glob[i + 2] === "/";
        out += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) out += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        out += `[${body}]`;
        i = end;
      }
    } else if (c === "{") {
      const end = glob.indexOf("}", i + 1);
      if (end < 0) out += "\\{";
      else {
        out += `(?:${glob.slice(i + 1, end).split(",").map((p) => p.replace(/[.+^$()|\\]/g, "\\$&").replace(/\*/g, "[^/]*")).join("|")})`;
        i = end;
      }
    } else out += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** The path of an entry below the directory URL, decoded; undefined if it is outside the directory. */
export function relativeEntryPath(directoryUrl: string, entryUrl: string): string | undefined {
  if (!entryUrl.startsWith(directoryUrl)) return undefined;
  const rest = entryUrl.slice(directoryUrl.length).replace(/[?#].*$/, "").replace(/\/$/, "");
  const segments = rest.split("/").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\") || s.includes("\0"))) return undefined;
  return segments.join("/");
}

async function listDirectory(plan: RecursivePlan, client: ReturnType<typeof connectDaemon>["client"]): Promise<DirectoryFile[]> {
  const d = plan.download;
  const root = d.url;
  const queue = [root];
  const files: DirectoryFile[] = [];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const response = await client.listTaskEntries(
      create(ListTaskEntriesRequestSchema, {
        taskId: "",
        url,
        requestHeader: d.requestHeader,
        timeout: d.timeout,
        objectStorage: d.objectStorage,
        hdfs: d.hdfs,
        huggingFace: d.huggingFace,
        modelScope: d.modelScope,
        remoteIp: d.remoteIp,
      }),
      { signal: plan.signal },
    );
    for (const entry of response.entries) {
      const path = relativeEntryPath(root, entry.url);
      if (path === undefined) throw new Error(`the listing of "${url}" returned "${entry.url}", outside "${root}"`);
      if (entry.isDir) queue.push(entry.url.endsWith("/") ? entry.url : `${entry.url}/`);
      else files.push({ url: entry.url, path, contentLength: Number(entry.contentLength) });
    }
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

async function downloadFile(plan: RecursivePlan, client: ReturnType<typeof connectDaemon>["client"], file: DirectoryFile): Promise<void> {
  const target = join(plan.output, ...file.path.split("/"));
  mkdirSync(dirname(target), { recursive: true });
  const download = clone(DownloadSchema, plan.download);
  download.url = file.url;
  download.outputPath = plan.transfer ? undefined : target;
  download.needPieceContent = plan.transfer;
  let fd: number | undefined;
  const temporary = `${target}.dfget-${process.pid}.tmp`;
  try {
    if (plan.transfer) {
      if (existsSync(target) && !download.overwrite) throw new Error(`Cannot write "${target}": file exists (use --overwrite)`);
      fd = openSync(temporary, "w");
    }
    for await (const response of client.downloadTask({ download }, { signal: plan.signal })) {
      const r = response.response;
      if (fd !== undefined && r.case === "downloadPieceFinishedResponse" && r.value.piece) {
        const piece = r.value.piece;
        if (!piece.content) throw new Error(`dfdaemon sent piece ${piece.number} without content`);
        writeAllSync(fd, piece.content, Number(piece.offset));
      }
    }
    if (fd !== undefined) {
      closeSync(fd);
      fd = undefined;
      renameSync(temporary, target);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
  }
}

/** Runs a recursive download; resolves with the exit code. */
export async function downloadDirectory(plan: RecursivePlan): Promise<number> {
  const root = plan.download.url;
  if (existsSync(plan.output) && !statSync(plan.output).isDirectory()) {
    plan.stderr.write(`dfget: Cannot download "${root}": output "${plan.output}" is not a directory\n`);
    return 1;
  }
  let connection: ReturnType<typeof connectDaemon> | undefined;
  try {
    connection = connectDaemon(plan.endpoint);
    const client = connection.client;
    let files: DirectoryFile[];
    try {
      files = await listDirectory(plan, client);
    } catch (error) {
      const message = plan.signal.aborted ? "interrupted" : describeRpcError(error, plan.endpoint);
      plan.stderr.write(`dfget: Cannot list "${root}": ${message}\n`);
      return 1;
    }
    if (plan.includeFiles.length > 0) {
      const globs = plan.includeFiles.map(globToRegExp);
      files = files.filter((f) => globs.some((g) => g.test(f.path)));
    }
    if (files.length > plan.maxFiles) {
      plan.stderr.write(`dfget: Cannot download "${root}": ${files.length} files exceed "--max-files" ${plan.maxFiles}\n`);
      return 1;
    }
    const outputRoot = resolve(plan.output);
    mkdirSync(outputRoot, { recursive: true });
    const failed: string[] = [];
    const queue = [...files];
    const worker = async () => {
      for (let file = queue.shift(); file && !plan.signal.aborted; file = queue.shift()) {
        // Paths were checked when listed; this keeps a bad listing from writing outside the output.
        if (relative(outputRoot, join(outputRoot, file.path)).startsWith(`..${sep}`)) continue;
        try {
          await downloadFile(plan, client, file);
        } catch (error) {
          failed.push(file.path);
          const message = plan.signal.aborted ? "interrupted" : describeRpcError(error, plan.endpoint);
          plan.stderr.write(`dfget: download of "${file.url}" failed: ${message}\n`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(plan.maxConcurrentRequests, files.length)) }, worker));
    if (plan.signal.aborted) {
      plan.stderr.write("dfget: interrupted\n");
      return 1;
    }
    if (failed.length > 0) {
      plan.stderr.write(`dfget: ${failed.length} of ${files.length} files failed: ${failed.map((f) => `"${f}"`).join(", ")}\n`);
      return 1;
    }
    return 0;
  } catch (error) {
    plan.stderr.write(`dfget: Cannot download "${root}": ${describeRpcError(error, plan.endpoint)}\n`);
    return 1;
  } finally {
    connection?.close();
  }
}
