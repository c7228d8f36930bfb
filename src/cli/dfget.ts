/** dfget: downloads a URL through the local dfdaemon, with Dragonfly's flags. */
import { closeSync, existsSync, openSync, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { DownloadSchema, Priority, TaskType } from "../gen/common/v2/common_pb.ts";
import { flag, parseArgs, type ParsedArgs } from "../common/config.ts";
import { parseDigest } from "../common/digest.ts";
import { writeAllSync } from "../common/file-write.ts";
import { DEFAULT_FILTERED_QUERY_PARAMS } from "../common/ids.ts";
import { MIN_PIECE_LENGTH } from "../common/piece.ts";
import { parseByteSize, parseDuration } from "../common/units.ts";
import { versionLine } from "../common/version.ts";
import { connectDaemon, DEFAULT_ENDPOINT, describeRpcError } from "./daemon-client.ts";
import { ProgressBar } from "./progress.ts";
import { downloadDirectory } from "./dfget-recursive.ts";
import { SOURCE_FLAGS, SOURCE_FLAGS_USAGE, sourceOptionsFromFlags } from "./source-flags.ts";

const USAGE = `Usage: dfget [OPTIONS] <URL> -O <OUTPUT>
       dfget -r [OPTIONS] <DIRECTORY URL ending in /> -O <OUTPUT DIRECTORY>

Downloads a file, or a directory of s3/gs/oss/obs/cos/hdfs/hf/modelscope, through the local dfdaemon
(peer-to-peer, with back-to-source).

Options:
  -O, --output <PATH>                 where to write the file (required)
  -e, --endpoint <SOCKET>             dfdaemon socket [default: ${DEFAULT_ENDPOINT}]
      --digest <ALGO:HEX>             verify the whole file (crc32, sha256, sha512, md5, sha1)
  -p, --priority <0-6>                download priority [default: 6]
      --piece-length <SIZE>           fixed piece length, at least 4MiB (e.g. 16mib)
      --tag <TAG>                     part of the task ID [default: ""]
      --application <APP>             part of the task ID [default: ""]
  -H, --header <'K: V'>               request header sent to the origin (repeatable)
      --filtered-query-param <KEY>    query key ignored in the task ID (repeatable; default: signatures)
      --content-for-calculating-task-id <TEXT>   task ID = sha256(TEXT)
      --timeout <DURATION>            give up after this long [default: 2h]
      --disable-back-to-source        never fetch from the origin
      --overwrite                     replace an existing output file
      --force-hard-link               fail if the output cannot be hard-linked
      --transfer-from-dfdaemon        receive the bytes over the socket and write them here
      --no-progress                   no progress bar
  -r, --recursive                     download a directory (not for http/https)
  -I, --include-files <GLOB>          with -r: only files whose relative path matches (repeatable)
      --max-files <N>                 with -r: most files to download [default: 100]
      --max-concurrent-requests <N>   with -r: files downloaded at once [default: 5]
  -l, --log-level <LEVEL>             accepted for compatibility
  -V, --version                       print the version
  -h, --help                          this help
${SOURCE_FLAGS_USAGE}
Environment: DFGET_TIMEOUT, DFGET_PRIORITY, DFGET_PIECE_LENGTH, DFGET_TAG, DFGET_APPLICATION,
DFGET_TRANSFER_FROM_DFDAEMON.`;

const BOOLEANS = [
  "disable-back-to-source", "overwrite", "force-hard-link", "transfer-from-dfdaemon", "no-progress", "help",
  "version", "recursive", "console", "storage-insecure-skip-verify",
];
const ALIASES: Record<string, string> = { O: "output", e: "endpoint", p: "priority", H: "header", h: "help", V: "version", l: "log-level", r: "recursive", I: "include-files" };
const KNOWN = new Set([
  ...BOOLEANS, "output", "endpoint", "digest", "priority", "piece-length", "tag", "application", "header",
  "filtered-query-param", "content-for-calculating-task-id", "timeout", "log-level", "include-files", "max-files",
  "max-concurrent-requests", ...SOURCE_FLAGS,
]);

class UsageError extends Error {}

function value(args: ParsedArgs, name: string, env?: string): string | undefined {
  return flag(args, name) ?? (env ? process.env[env] : undefined);
}

function truthy(args: ParsedArgs, name: string, env?: string): boolean {
  const text = value(args, name, env);
  return text !== undefined && text !== "false" && text !== "0";
}

/** Builds the Download of a dfget command line; throws UsageError naming the flag. */
export function buildDownload(args: ParsedArgs, cwd = process.cwd()) {
  const url = args.positionals[0];
  if (!url) throw new UsageError("missing <URL>");
  if (args.positionals.length > 1) throw new UsageError(`unexpected argument "${args.positionals[1]}"`);
  try {
    new URL(url);
  } catch {
    throw new UsageError(`invalid URL "${url}"`);
  }
  for (const name of Object.keys(args.flags)) if (!KNOWN.has(name)) throw new UsageError(`unknown flag "--${name}"`);
  const outputFlag = flag(args, "output");
  if (!outputFlag) throw new UsageError('missing "--output" (-O)');
  const output = resolve(cwd, outputFlag);
  if (output.endsWith("/")) throw new UsageError(`"--output" must be a file path, got "${outputFlag}"`);
  const priorityText = value(args, "priority", "DFGET_PRIORITY") ?? "6";
  const priority = Number(priorityText);
  if (!Number.isInteger(priority) || priority < 0 || priority > 6) {
    throw new UsageError(`invalid "--priority" "${priorityText}": must be 0 to 6`);
  }
  let pieceLength: bigint | undefined;
  const pieceText = value(args, "piece-length", "DFGET_PIECE_LENGTH");
  if (pieceText !== undefined) {
    let bytes: number;
    try {
      bytes = parseByteSize(pieceText);
    } catch {
      throw new UsageError(`invalid "--piece-length" "${pieceText}"`);
    }
    if (bytes < MIN_PIECE_LENGTH) throw new UsageError(`invalid "--piece-length" "${pieceText}": must be at least 4MiB`);
    pieceLength = BigInt(bytes);
  }
  const timeoutText = value(args, "timeout", "DFGET_TIMEOUT") ?? "2h";
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(timeoutText);
  } catch {
    throw new UsageError(`invalid "--timeout" "${timeoutText}": expected e.g. 30s, 10m, 2h`);
  }
  const digest = flag(args, "digest");
  if (digest !== undefined) {
    try {
      parseDigest(digest);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const requestHeader: Record<string, string> = {};
  for (const header of args.flags.header ?? []) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new UsageError(`invalid "--header" "${header}": expected "Key: Value"`);
    requestHeader[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const transfer = truthy(args, "transfer-from-dfdaemon", "DFGET_TRANSFER_FROM_DFDAEMON");
  const filtered = args.flags["filtered-query-param"];
  return {
    output,
    transfer,
    download: create(DownloadSchema, {
      url,
      digest,
      type: TaskType.STANDARD,
      tag: value(args, "tag", "DFGET_TAG") ?? "",
      application: value(args, "application", "DFGET_APPLICATION") ?? "",
      priority: priority as Priority,
      filteredQueryParams: filtered && filtered.length > 0 ? filtered : [...DEFAULT_FILTERED_QUERY_PARAMS],
      requestHeader,
      pieceLength,
      outputPath: transfer ? undefined : output,
      timeout: durationFromMs(timeoutMs),
      disableBackToSource: truthy(args, "disable-back-to-source"),
      needPieceContent: transfer,
      forceHardLink: truthy(args, "force-hard-link"),
      overwrite: truthy(args, "overwrite"),
      contentForCalculatingTaskId: flag(args, "content-for-calculating-task-id"),
      remoteIp: "127.0.0.1",
      ...sourceOptionsFromFlags(args, url),
    }),
  };
}

function positiveInteger(args: ParsedArgs, name: string, fallback: number): number {
  const text = flag(args, name);
  if (text === undefined) return fallback;
  const number = Number(text);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`invalid "--${name}" "${text}": must be a positive integer`);
  return number;
}

/** Checks the flags of a recursive download; throws UsageError naming the flag. */
export function recursiveOptions(args: ParsedArgs, download: { url: string; digest?: string; contentForCalculatingTaskId?: string }) {
  const scheme = download.url.slice(0, download.url.indexOf(":")).toLowerCase();
  if (scheme === "http" || scheme === "https") throw new UsageError(`"--recursive" is not supported for ${scheme} URLs`);
  if (!new URL(download.url).pathname.endsWith("/") && !download.url.endsWith("/")) {
    throw new UsageError(`"--recursive" needs a directory URL ending in "/", got "${download.url}"`);
  }
  if (download.digest) throw new UsageError('"--digest" cannot be used with "--recursive"');
  if (download.contentForCalculatingTaskId) throw new UsageError('"--content-for-calculating-task-id" cannot be used with "--recursive"');
  return {
    includeFiles: args.flags["include-files"] ?? [],
    maxFiles: positiveInteger(args, "max-files", 100),
    maxConcurrentRequests: positiveInteger(args, "max-concurrent-requests", 5),
  };
}

/** Runs dfget; resolves with the exit code. */
export async function main(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = parseArgs(argv, BOOLEANS, ALIASES);
  if (truthy(args, "help")) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (truthy(args, "version")) {
    io.stdout.write(`${versionLine("dfget")}\n`);
    return 0;
  }
  let plan: ReturnType<typeof buildDownload>;
  let recursive: ReturnType<typeof recursiveOptions> | undefined;
  try {
    plan = buildDownload(args);
    if (truthy(args, "recursive")) recursive = recursiveOptions(args, plan.download);
  } catch (error) {
    io.stderr.write(`dfget: ${(error as Error).message}\n\nRun "dfget --help" for usage.\n`);
    return 2;
  }
  const endpoint = value(args, "endpoint", "DFGET_ENDPOINT") ?? DEFAULT_ENDPOINT;
  if (recursive) {
    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.once("SIGINT", onInterrupt);
    process.once("SIGTERM", onInterrupt);
    try {
      return await downloadDirectory({ ...plan, ...recursive, endpoint, signal: interrupt.signal, stderr: io.stderr });
    } finally {
      process.off("SIGINT", onInterrupt);
      process.off("SIGTERM", onInterrupt);
    }
  }
  const showProgress = !truthy(args, "no-progress") && Boolean((io.stderr as { isTTY?: boolean }).isTTY);
  const bar = showProgress ? new ProgressBar(io.stderr as never, "Downloading") : undefined;
  let connection: ReturnType<typeof connectDaemon> | undefined;
  const temporary = `${plan.output}.dfget-${process.pid}.tmp`;
  let fd: number | undefined;
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (plan.transfer) {
      if (existsSync(plan.output) && !plan.download.overwrite) {
        throw new Error(`Cannot write "${plan.output}": file exists (use --overwrite)`);
      }
      fd = openSync(temporary, "w");
    }
    connection = connectDaemon(endpoint);
    for await (const response of connection.client.downloadTask({ download: plan.download }, { signal: controller.signal })) {
      const r = response.response;
      if (r.case === "downloadTaskStartedResponse") bar?.start(Number(r.value.contentLength));
      else if (r.case === "downloadPieceFinishedResponse" && r.value.piece) {
        const piece = r.value.piece;
        if (fd !== undefined) {
          if (!piece.content) throw new Error(`dfdaemon sent piece ${piece.number} without content`);
          writeAllSync(fd, piece.content, Number(piece.offset));
        }
        bar?.advance(Number(piece.length));
      }
    }
    if (fd !== undefined) {
      closeSync(fd);
      fd = undefined;
      renameSync(temporary, plan.output);
    }
    bar?.finish();
    return 0;
  } catch (error) {
    if (bar) io.stderr.write("\n");
    const message = controller.signal.aborted ? "interrupted" : describeRpcError(error, endpoint);
    io.stderr.write(`dfget: download of "${plan.download.url}" failed: ${message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    connection?.close();
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
