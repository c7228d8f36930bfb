/** dfcache: imports files into the cluster as persistent cache tasks, exports, stats and deletes them. */
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { durationFromMs, durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import type { PersistentCacheTask } from "../gen/common/v2/common_pb.ts";
import { flag, parseArgs, type ParsedArgs } from "../common/config.ts";
import { parseDigest } from "../common/digest.ts";
import { writeAllSync } from "../common/file-write.ts";
import { isTaskId } from "../common/ids.ts";
import { MIN_PIECE_LENGTH } from "../common/piece.ts";
import { formatBytes, parseByteSize, parseDuration } from "../common/units.ts";
import { versionLine } from "../common/version.ts";
import { connectDaemon, DEFAULT_ENDPOINT, describeRpcError } from "./daemon-client.ts";
import { ProgressBar } from "./progress.ts";

/** Default number of persistent copies in the cluster, the importing host's included. */
export const DEFAULT_PERSISTENT_REPLICA_COUNT = 2;
/** Default TTL of an imported task. */
export const DEFAULT_TTL = "1h";
/** Shortest TTL accepted. */
export const MIN_TTL_MS = 1_000;
/** Longest TTL accepted: seven days. */
export const MAX_TTL_MS = 7 * 86_400_000;
/** Default time an import may take. */
export const DEFAULT_IMPORT_TIMEOUT = "30m";
/** Default time an export may take. */
export const DEFAULT_EXPORT_TIMEOUT = "2h";

const USAGE = `Usage: dfcache <COMMAND> [OPTIONS]

Puts files into the cluster as persistent cache tasks, kept on several hosts until their TTL ends.

Commands:
  import <PATH>                 import a local file; prints its task ID
  export <TASK_ID> -O <PATH>    fetch a task from the cluster into a file
  stat <TASK_ID>                show a task: size, state, replicas, TTL
  delete <TASK_ID>              remove a task from every host that holds it

Options of every command:
  -e, --endpoint <SOCKET>       dfdaemon socket [default: ${DEFAULT_ENDPOINT}]
  -h, --help                    this help
  -V, --version                 print the version

Options of import:
      --persistent-replica-count <N>   persistent copies in the cluster, this host's included [default: ${DEFAULT_PERSISTENT_REPLICA_COUNT}]
      --ttl <DURATION>                 how long the cluster keeps the task, 1s to 7d [default: ${DEFAULT_TTL}]
      --piece-length <SIZE>            fixed piece length, at least 4MiB (part of the task ID)
      --tag <TAG>                      part of the task ID
      --application <APP>              part of the task ID
      --content-for-calculating-task-id <TEXT>   task ID = sha256(TEXT) instead of the file's bytes
      --timeout <DURATION>             give up after this long [default: ${DEFAULT_IMPORT_TIMEOUT}]

Options of export:
  -O, --output <PATH>                  where to write the file (required)
      --overwrite                      replace an existing output file
      --digest <ALGO:HEX>              verify the whole file (crc32, sha256, sha512, md5, sha1)
      --transfer-from-dfdaemon         receive the bytes over the socket and write them here
      --force-hard-link                fail if the output cannot be hard-linked
      --tag <TAG>, --application <APP> as given at import
      --timeout <DURATION>             give up after this long [default: ${DEFAULT_EXPORT_TIMEOUT}]
      --no-progress                    no progress bar`;

const BOOLEANS = ["overwrite", "transfer-from-dfdaemon", "force-hard-link", "no-progress", "help", "version", "json"];
const ALIASES: Record<string, string> = { O: "output", e: "endpoint", h: "help", V: "version" };
const COMMON_FLAGS = ["endpoint", "help", "version", "log-level"];
const FLAGS: Record<string, readonly string[]> = {
  import: [...COMMON_FLAGS, "persistent-replica-count", "ttl", "piece-length", "tag", "application", "content-for-calculating-task-id", "timeout", "no-progress"],
  export: [...COMMON_FLAGS, "output", "overwrite", "digest", "transfer-from-dfdaemon", "force-hard-link", "tag", "application", "timeout", "no-progress"],
  stat: [...COMMON_FLAGS, "json"],
  delete: [...COMMON_FLAGS],
};

class UsageError extends Error {}

type Io = { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown; isTTY?: boolean } };

function checkFlags(command: string, args: ParsedArgs): void {
  const known = new Set(FLAGS[command]);
  for (const name of Object.keys(args.flags)) if (!known.has(name)) throw new UsageError(`unknown flag "--${name}" for "${command}"`);
}

function onePositional(args: ParsedArgs, what: string): string {
  const value = args.positionals[0];
  if (!value) throw new UsageError(`missing <${what}>`);
  if (args.positionals.length > 1) throw new UsageError(`unexpected argument "${args.positionals[1]}"`);
  return value;
}

function taskIdArgument(args: ParsedArgs): string {
  const taskId = onePositional(args, "TASK_ID");
  if (!isTaskId(taskId)) throw new UsageError(`invalid task ID "${taskId}": expected 64 lowercase hex characters`);
  return taskId;
}

function duration(args: ParsedArgs, name: string, fallback: string): number {
  const text = flag(args, name) ?? fallback;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new UsageError(`invalid "--${name}" "${text}": expected e.g. 30s, 10m, 1h, 7d`);
  }
  if (!(ms > 0)) throw new UsageError(`invalid "--${name}" "${text}": must be positive`);
  return ms;
}

/** The UploadPersistentCacheTaskRequest of a `dfcache import` command line; throws UsageError naming the flag. */
export function buildImport(args: ParsedArgs, cwd = process.cwd()) {
  checkFlags("import", args);
  const path = resolve(cwd, onePositional(args, "PATH"));
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new UsageError(`cannot import "${path}": no such file`);
  }
  if (!stats.isFile()) throw new UsageError(`cannot import "${path}": not a regular file`);
  const replicaText = flag(args, "persistent-replica-count") ?? String(DEFAULT_PERSISTENT_REPLICA_COUNT);
  const replicas = Number(replicaText);
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new UsageError(`invalid "--persistent-replica-count" "${replicaText}": must be a positive integer`);
  }
  const ttlMs = duration(args, "ttl", DEFAULT_TTL);
  if (ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new UsageError(`invalid "--ttl" "${flag(args, "ttl")}": must be between 1s and 7d`);
  }
  let pieceLength: bigint | undefined;
  const pieceText = flag(args, "piece-length");
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
  return {
    contentLength: stats.size,
    request: {
      path,
      persistentReplicaCount: BigInt(replicas),
      tag: flag(args, "tag"),
      application: flag(args, "application"),
      pieceLength,
      ttl: durationFromMs(ttlMs),
      timeout: durationFromMs(duration(args, "timeout", DEFAULT_IMPORT_TIMEOUT)),
      contentForCalculatingTaskId: flag(args, "content-for-calculating-task-id"),
      remoteIp: "127.0.0.1",
    },
  };
}

/** The DownloadPersistentCacheTaskRequest of a `dfcache export` command line; throws UsageError naming the flag. */
export function buildExport(args: ParsedArgs, cwd = process.cwd()) {
  checkFlags("export", args);
  const taskId = taskIdArgument(args);
  const outputFlag = flag(args, "output");
  if (!outputFlag) throw new UsageError('missing "--output" (-O)');
  const output = resolve(cwd, outputFlag);
  if (outputFlag.endsWith("/")) throw new UsageError(`"--output" must be a file path, got "${outputFlag}"`);
  const digest = flag(args, "digest");
  if (digest !== undefined) {
    try {
      parseDigest(digest);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const transfer = flag(args, "transfer-from-dfdaemon") === "true";
  return {
    output,
    transfer,
    request: {
      taskId,
      persistent: false,
      tag: flag(args, "tag"),
      application: flag(args, "application"),
      outputPath: transfer ? undefined : output,
      timeout: durationFromMs(duration(args, "timeout", DEFAULT_EXPORT_TIMEOUT)),
      needPieceContent: transfer,
      forceHardLink: flag(args, "force-hard-link") === "true",
      digest,
      remoteIp: "127.0.0.1",
      overwrite: flag(args, "overwrite") === "true",
    },
  };
}

function formatDuration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.round(ms / 1000));
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length > 0 ? parts.join("") : "0s";
}

/** A task as `dfcache stat` prints it: one `Field: value` per line. */
export function formatTask(task: PersistentCacheTask, now = Date.now()): string {
  const ttlMs = task.ttl ? durationMs(task.ttl) : 0;
  const created = task.createdAt ? timestampDate(task.createdAt) : undefined;
  const remaining = created ? created.getTime() + ttlMs - now : ttlMs;
  const lines = [
    ["ID", task.id],
    ["State", task.state],
    ["Content length", `${task.contentLength} (${formatBytes(Number(task.contentLength))})`],
    ["Piece length", `${task.pieceLength}`],
    ["Piece count", `${task.pieceCount}`],
    ["Persistent replica count", `${task.persistentReplicaCount}`],
    ["Current persistent replica count", `${task.currentPersistentReplicaCount}`],
    ["Current replica count", `${task.currentReplicaCount}`],
    ["Tag", task.tag ?? ""],
    ["Application", task.application ?? ""],
    ["TTL", `${formatDuration(ttlMs)} (${formatDuration(remaining)} left)`],
    ["Created at", created?.toISOString() ?? ""],
  ];
  return lines.map(([name, value]) => `${name}: ${value}`).join("\n");
}

async function runImport(args: ParsedArgs, endpoint: string, io: Io): Promise<number> {
  const plan = buildImport(args);
  const connection = connectDaemon(endpoint);
  const spinner = flag(args, "no-progress") !== "true" && io.stderr.isTTY ? new ProgressBar(io.stderr as never, "Importing") : undefined;
  try {
    spinner?.start(plan.contentLength);
    const task = await connection.client.uploadPersistentCacheTask(plan.request, { timeoutMs: 0 });
    spinner?.advance(plan.contentLength);
    spinner?.finish();
    io.stdout.write(`${task.id}\n`);
    return 0;
  } catch (error) {
    if (spinner) io.stderr.write("\n");
    io.stderr.write(`dfcache: import of "${plan.request.path}" failed: ${describeRpcError(error, endpoint)}\n`);
    return 1;
  } finally {
    connection.close();
  }
}

async function runExport(args: ParsedArgs, endpoint: string, io: Io): Promise<number> {
  const plan = buildExport(args);
  const bar = flag(args, "no-progress") !== "true" && io.stderr.isTTY ? new ProgressBar(io.stderr as never, "Exporting") : undefined;
  const temporary = `${plan.output}.dfcache-${process.pid}.tmp`;
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let fd: number | undefined;
  let connection: ReturnType<typeof connectDaemon> | undefined;
  try {
    if (plan.transfer) {
      if (existsSync(plan.output) && !plan.request.overwrite) throw new Error(`Cannot write "${plan.output}": file exists (use --overwrite)`);
      fd = openSync(temporary, "w");
    }
    connection = connectDaemon(endpoint);
    const stream = connection.client.downloadPersistentCacheTask(plan.request, { signal: controller.signal, timeoutMs: 0 });
    for await (const response of stream) {
      const r = response.response;
      if (r.case === "downloadPersistentCacheTaskStartedResponse") bar?.start(Number(r.value.contentLength));
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
    io.stderr.write(`dfcache: export of "${plan.request.taskId}" failed: ${message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    connection?.close();
  }
}

async function runStat(args: ParsedArgs, endpoint: string, io: Io): Promise<number> {
  checkFlags("stat", args);
  const taskId = taskIdArgument(args);
  const connection = connectDaemon(endpoint);
  try {
    const task = await connection.client.statPersistentCacheTask({ taskId, remoteIp: "127.0.0.1" });
    if (flag(args, "json") === "true") {
      const ttlMs = task.ttl ? durationMs(task.ttl) : 0;
      io.stdout.write(
        `${JSON.stringify({
          id: task.id,
          state: task.state,
          content_length: Number(task.contentLength),
          piece_length: Number(task.pieceLength),
          piece_count: task.pieceCount,
          persistent_replica_count: Number(task.persistentReplicaCount),
          current_persistent_replica_count: Number(task.currentPersistentReplicaCount),
          current_replica_count: Number(task.currentReplicaCount),
          tag: task.tag ?? "",
          application: task.application ?? "",
          ttl_seconds: ttlMs / 1000,
          created_at: task.createdAt ? timestampDate(task.createdAt).toISOString() : null,
        })}\n`,
      );
    } else {
      io.stdout.write(`${formatTask(task)}\n`);
    }
    return 0;
  } catch (error) {
    io.stderr.write(`dfcache: stat of "${taskId}" failed: ${describeRpcError(error, endpoint)}\n`);
    return 1;
  } finally {
    connection.close();
  }
}

async function runDelete(args: ParsedArgs, endpoint: string, io: Io): Promise<number> {
  checkFlags("delete", args);
  const taskId = taskIdArgument(args);
  const connection = connectDaemon(endpoint);
  try {
    await connection.client.deleteTask({ taskId, remoteIp: "127.0.0.1" });
    io.stdout.write(`Deleted ${taskId}\n`);
    return 0;
  } catch (error) {
    io.stderr.write(`dfcache: delete of "${taskId}" failed: ${describeRpcError(error, endpoint)}\n`);
    return 1;
  } finally {
    connection.close();
  }
}

const COMMANDS: Record<string, (args: ParsedArgs, endpoint: string, io: Io) => Promise<number>> = {
  import: runImport,
  export: runExport,
  stat: runStat,
  delete: runDelete,
};

/** Runs dfcache; resolves with the exit code (2 for usage errors, 1 for failures). */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    io.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    io.stdout.write(`${versionLine("dfcache")}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr.write(`dfcache: unknown command "${command}"\n\nRun "dfcache --help" for usage.\n`);
    return 2;
  }
  const args = parseArgs(rest, BOOLEANS, ALIASES);
  if (flag(args, "help") === "true") {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const endpoint = flag(args, "endpoint") ?? process.env.DFCACHE_ENDPOINT ?? DEFAULT_ENDPOINT;
  try {
    return await run(args, endpoint, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`dfcache ${command}: ${error.message}\n\nRun "dfcache --help" for usage.\n`);
      return 2;
    }
    io.stderr.write(`dfcache ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
