/** A typed client of dfdaemon's DfdaemonDownload service on its unix socket: download, stat, import, export. */
import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { isAbsolute } from "node:path";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { DownloadSchema, Priority, TaskType, TrafficType as WireTrafficType, type PersistentCacheTask, type Piece, type Task } from "../gen/common/v2/common_pb.ts";
import { DfdaemonDownload, type StatLocalTaskResponse } from "../gen/dfdaemon/v2/dfdaemon_pb.ts";
import { SdkError } from "../errors.ts";
import { DEFAULT_FILTERED_QUERY_PARAMS, isTaskId, taskIdOf, type TaskIdParts } from "./task-id.ts";
import { createSocketTransport, requireSocket, toSdkError, type SocketTransport } from "./transport.ts";
import type {
  DownloadEvent,
  DownloadOptions,
  DownloadResult,
  ExportOptions,
  ExportResult,
  ImportOptions,
  LocalTaskInfo,
  PersistentCacheTaskInfo,
  PieceInfo,
  Progress,
  TaskIdentity,
  TaskInfo,
  TrafficType,
} from "./types.ts";

/** dfdaemon's default socket. */
export const DEFAULT_SOCKET_PATH = "/var/run/dragonfly/dfdaemon.sock";
/** Smallest fixed piece length dfdaemon accepts. */
export const MIN_PIECE_LENGTH = 4 * 1024 * 1024;
/** Default TTL of an imported file. */
export const DEFAULT_TTL_MS = 3_600_000;
/** Default number of persistent copies of an imported file. */
export const DEFAULT_REPLICAS = 2;
/** Lowest priority, dfget's default. */
const DEFAULT_PRIORITY = 6;
/** The address this client reports as its own to the daemon. */
const DEFAULT_REMOTE_IP = "127.0.0.1";

/** Options of `createDfdaemonClient()`. */
export interface DfdaemonClientOptions {
  /** dfdaemon's socket (`download.server.socketPath`); `/var/run/dragonfly/dfdaemon.sock` when absent. */
  socketPath?: string;
  /** Default deadline of unary calls (stat, import, delete), ms; none when absent. */
  timeoutMs?: number;
}

/** A client of one dfdaemon. Close it (or `using` it) when done. */
export interface DfdaemonClient extends Disposable {
  /** The socket this client talks to. */
  readonly socketPath: string;
  /** The generated Connect client, for calls this client does not wrap. */
  readonly raw: Client<typeof DfdaemonDownload>;
  /** Downloads a URL through the peer-to-peer network; resolves when the file is complete (and written). */
  download(url: string, options?: DownloadOptions): Promise<DownloadResult>;
  /** The same download as a stream of events: `started`, then one `piece` per finished piece. */
  downloadEvents(url: string, options?: Omit<DownloadOptions, "onProgress">): AsyncIterable<DownloadEvent>;
  /** A task as the cluster knows it, by task ID or by URL (with the identity it was downloaded with). */
  stat(taskIdOrUrl: string, identity?: TaskIdentity): Promise<TaskInfo>;
  /** A task as stored on this peer, by task ID or URL. */
  statLocal(taskIdOrUrl: string, identity?: TaskIdentity): Promise<LocalTaskInfo>;
  /** Every task stored on this peer. */
  listLocalTasks(): Promise<LocalTaskInfo[]>;
  /** Removes a task (a persistent cache task from every host that holds it). */
  deleteTask(taskIdOrUrl: string, identity?: TaskIdentity): Promise<void>;
  /** Imports a local file (absolute path, readable by the daemon) as a persistent cache task. */
  importFile(path: string, options?: ImportOptions): Promise<PersistentCacheTaskInfo>;
  /** Fetches a persistent cache task from the cluster into `output` (an absolute path). */
  export(taskId: string, output: string, options?: ExportOptions): Promise<ExportResult>;
  /** A persistent cache task as the cluster knows it. */
  statPersistentCache(taskId: string): Promise<PersistentCacheTaskInfo>;
  /** The task ID a download of `url` gets; computed here, the daemon is not asked. */
  taskId(url: string, identity?: TaskIdentity): string;
  /** Closes the connection. */
  close(): void;
}

const TRAFFIC: Record<number, TrafficType> = {
  [WireTrafficType.BACK_TO_SOURCE]: "back_to_source",
  [WireTrafficType.REMOTE_PEER]: "remote_peer",
  [WireTrafficType.LOCAL_PEER]: "local_peer",
};

function date(timestamp: Timestamp | undefined): Date | undefined {
  return timestamp ? timestampDate(timestamp) : undefined;
}

function ms(duration: Duration | undefined): number {
  return duration ? durationMs(duration) : 0;
}

function pieceInfo(piece: Piece): PieceInfo {
  return {
    number: piece.number,
    offset: Number(piece.offset),
    length: Number(piece.length),
    digest: piece.digest,
    ...(piece.parentId ? { parentId: piece.parentId } : {}),
    trafficType: piece.trafficType === undefined ? "unknown" : (TRAFFIC[piece.trafficType] ?? "unknown"),
    costMs: ms(piece.cost),
  };
}

function taskInfo(task: Task): TaskInfo {
  return {
    id: task.id,
    url: task.url,
    state: task.state,
    contentLength: Number(task.contentLength),
    pieceCount: task.pieceCount,
    peerCount: task.peerCount,
    hasAvailablePeer: task.hasAvailablePeer,
    ...(task.tag ? { tag: task.tag } : {}),
    ...(task.application ? { application: task.application } : {}),
    ...(task.digest ? { digest: task.digest } : {}),
    ...(task.createdAt ? { createdAt: timestampDate(task.createdAt) } : {}),
    ...(task.updatedAt ? { updatedAt: timestampDate(task.updatedAt) } : {}),
  };
}

function localTaskInfo(task: StatLocalTaskResponse): LocalTaskInfo {
  const info: LocalTaskInfo = {
    id: task.taskId,
    contentLength: Number(task.contentLength),
    pieceLength: Number(task.pieceLength),
    responseHeader: { ...task.responseHeader },
    uploadedCount: Number(task.uploadedCount),
  };
  for (const [key, value] of [["createdAt", task.createdAt], ["updatedAt", task.updatedAt], ["finishedAt", task.finishedAt], ["failedAt", task.failedAt]] as const) {
    const when = date(value);
    if (when) info[key] = when;
  }
  return info;
}

function persistentTaskInfo(task: PersistentCacheTask): PersistentCacheTaskInfo {
  return {
    id: task.id,
    state: task.state,
    contentLength: Number(task.contentLength),
    pieceLength: Number(task.pieceLength),
    pieceCount: task.pieceCount,
    replicas: Number(task.persistentReplicaCount),
    currentPersistentReplicas: Number(task.currentPersistentReplicaCount),
    currentReplicas: Number(task.currentReplicaCount),
    ...(task.tag ? { tag: task.tag } : {}),
    ...(task.application ? { application: task.application } : {}),
    ttlMs: ms(task.ttl),
    ...(task.createdAt ? { createdAt: timestampDate(task.createdAt) } : {}),
    ...(task.updatedAt ? { updatedAt: timestampDate(task.updatedAt) } : {}),
  };
}

function checkPieceLength(pieceLength: number | undefined): bigint | undefined {
  if (pieceLength === undefined) return undefined;
  if (!Number.isSafeInteger(pieceLength) || pieceLength < MIN_PIECE_LENGTH) {
    throw new SdkError("invalid_argument", `Invalid option "pieceLength" ${pieceLength}: must be an integer of at least ${MIN_PIECE_LENGTH} bytes`);
  }
  return BigInt(pieceLength);
}

function checkOutput(output: string | undefined): void {
  if (output !== undefined && !isAbsolute(output)) {
    throw new SdkError("invalid_argument", `Invalid option "output" "${output}": must be an absolute path`);
  }
}

/** Tracks finished pieces once each, whatever order and repetition the stream brings. */
class PieceCounter {
  private readonly seen = new Set<number>();
  completedLength = 0;

  add(number: number, length: number): boolean {
    if (this.seen.has(number)) return false;
    this.seen.add(number);
    this.completedLength += length;
    return true;
  }

  get pieces(): number {
    return this.seen.size;
  }
}

/** Writes pieces received over the socket to a temporary file, renamed into place at the end. */
class PieceWriter {
  private fd: number | undefined;
  private readonly temporary: string;

  constructor(private readonly output: string, overwrite: boolean) {
    if (existsSync(output) && !overwrite) {
      throw new SdkError("failed_precondition", `Cannot write "${output}": file exists (use the "overwrite" option)`);
    }
    this.temporary = `${output}.sdk-${process.pid}-${Date.now()}.tmp`;
    this.fd = openSync(this.temporary, "w");
  }

  write(piece: PieceInfo, content: Uint8Array | undefined): void {
    if (!content) throw new SdkError("data_loss", `dfdaemon sent piece ${piece.number} without its content`);
    if (this.fd === undefined) return;
    writeSync(this.fd, content, 0, content.length, piece.offset);
  }

  finish(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.temporary, this.output);
  }

  discard(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.temporary, { force: true });
  }
}

/** Creates a client of the dfdaemon listening on `socketPath`. Connects lazily, on the first call. */
export function createDfdaemonClient(options: DfdaemonClientOptions = {}): DfdaemonClient {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  let transport: SocketTransport | undefined;
  const lazy = (): SocketTransport => (transport ??= createSocketTransport(socketPath));
  // The Connect client resolves the transport on every call, so none is opened before the first one.
  const raw = createClient(DfdaemonDownload, {
    unary: (...args) => lazy().unary(...args),
    stream: (...args) => lazy().stream(...args),
  });
  const unaryOptions = (signal?: AbortSignal) => ({ ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), ...(signal ? { signal } : {}) });

  async function unary<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      requireSocket(socketPath);
      return await call();
    } catch (error) {
      throw toSdkError(error, socketPath, what);
    }
  }

  function resolveTaskId(taskIdOrUrl: string, identity: TaskIdentity = {}): string {
    if (isTaskId(taskIdOrUrl)) return taskIdOrUrl;
    return taskIdOf({ url: taskIdOrUrl, ...identity } as TaskIdParts);
  }

  async function* downloadEvents(url: string, opts: Omit<DownloadOptions, "onProgress"> = {}): AsyncGenerator<DownloadEvent> {
    const what = `Download of "${url}"`;
    let writer: PieceWriter | undefined;
    try {
      try {
        new URL(url);
      } catch (cause) {
        throw new SdkError("invalid_argument", `Invalid URL "${url}": cannot be parsed`, { cause });
      }
      checkOutput(opts.output);
      if (opts.transfer && !opts.output) throw new SdkError("invalid_argument", 'Invalid options: "transfer" needs "output"');
      const priority = opts.priority ?? DEFAULT_PRIORITY;
      if (!Number.isInteger(priority) || priority < 0 || priority > 6) {
        throw new SdkError("invalid_argument", `Invalid option "priority" ${priority}: must be 0 to 6`);
      }
      const download = create(DownloadSchema, {
        url,
        type: TaskType.STANDARD,
        priority: priority as Priority,
        tag: opts.tag ?? "",
        application: opts.application ?? "",
        filteredQueryParams: [...(opts.filteredQueryParams ?? DEFAULT_FILTERED_QUERY_PARAMS)],
        requestHeader: { ...opts.headers },
        pieceLength: checkPieceLength(opts.pieceLength),
        outputPath: opts.transfer ? undefined : opts.output,
        timeout: opts.timeoutMs !== undefined ? durationFromMs(opts.timeoutMs) : undefined,
        disableBackToSource: opts.disableBackToSource ?? false,
        needPieceContent: opts.transfer ?? false,
        forceHardLink: opts.forceHardLink ?? false,
        overwrite: opts.overwrite ?? false,
        remoteIp: DEFAULT_REMOTE_IP,
        ...(opts.digest !== undefined ? { digest: opts.digest } : {}),
        ...(opts.contentForCalculatingTaskId !== undefined ? { contentForCalculatingTaskId: opts.contentForCalculatingTaskId } : {}),
      });
      requireSocket(socketPath);
      if (opts.transfer && opts.output) writer = new PieceWriter(opts.output, opts.overwrite ?? false);
      const counter = new PieceCounter();
      let contentLength = 0;
      const stream = raw.downloadTask({ download }, { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: opts.timeoutMs ?? 0 });
      for await (const message of stream) {
        const r = message.response;
        if (r.case === "downloadTaskStartedResponse") {
          // Its `pieces` are the pieces to come, not finished ones: every piece is reported by a later message.
          contentLength = Number(r.value.contentLength);
          yield {
            type: "started",
            taskId: message.taskId,
            peerId: message.peerId,
            hostId: message.hostId,
            contentLength,
            responseHeader: { ...r.value.responseHeader },
            finished: r.value.isFinished,
          };
        } else if (r.case === "downloadPieceFinishedResponse" && r.value.piece) {
          const piece = pieceInfo(r.value.piece);
          writer?.write(piece, r.value.piece.content);
          // A piece reported twice is one piece: progress never counts it again.
          if (!counter.add(piece.number, piece.length)) continue;
          yield {
            type: "piece",
            taskId: message.taskId,
            piece,
            ...(r.value.piece.content ? { content: r.value.piece.content } : {}),
            completedLength: counter.completedLength,
            contentLength,
            pieces: counter.pieces,
          };
        }
      }
      writer?.finish();
      writer = undefined;
    } catch (error) {
      throw toSdkError(error, socketPath, what, opts.signal);
    } finally {
      writer?.discard();
    }
  }

  async function download(url: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
    const { onProgress, ...rest } = opts;
    const result: DownloadResult = {
      taskId: "",
      peerId: "",
      hostId: "",
      contentLength: 0,
      pieces: 0,
      responseHeader: {},
      bytesByTrafficType: { back_to_source: 0, remote_peer: 0, local_peer: 0, unknown: 0 },
      ...(opts.output ? { output: opts.output } : {}),
    };
    for await (const event of downloadEvents(url, rest)) {
      let progress: Progress;
      if (event.type === "started") {
        Object.assign(result, { taskId: event.taskId, peerId: event.peerId, hostId: event.hostId, contentLength: event.contentLength, responseHeader: event.responseHeader });
        progress = { taskId: event.taskId, contentLength: event.contentLength, completedLength: 0, pieces: 0 };
      } else {
        result.pieces += 1;
        result.bytesByTrafficType[event.piece.trafficType] += event.piece.length;
        progress = { taskId: event.taskId, contentLength: event.contentLength, completedLength: event.completedLength, pieces: event.pieces, piece: event.piece };
      }
      onProgress?.(progress);
    }
    return result;
  }

  async function exportTask(taskId: string, output: string, opts: ExportOptions = {}): Promise<ExportResult> {
    const what = `Export of "${taskId}"`;
    let writer: PieceWriter | undefined;
    try {
      if (!isTaskId(taskId)) throw new SdkError("invalid_argument", `Invalid task ID "${taskId}": expected 64 lowercase hex characters`);
      checkOutput(output);
      requireSocket(socketPath);
      if (opts.transfer) writer = new PieceWriter(output, opts.overwrite ?? false);
      const stream = raw.downloadPersistentCacheTask(
        {
          taskId,
          persistent: opts.persistent ?? false,
          outputPath: opts.transfer ? undefined : output,
          needPieceContent: opts.transfer ?? false,
          forceHardLink: opts.forceHardLink ?? false,
          overwrite: opts.overwrite ?? false,
          remoteIp: DEFAULT_REMOTE_IP,
          ...(opts.tag !== undefined ? { tag: opts.tag } : {}),
          ...(opts.application !== undefined ? { application: opts.application } : {}),
          ...(opts.digest !== undefined ? { digest: opts.digest } : {}),
          ...(opts.timeoutMs !== undefined ? { timeout: durationFromMs(opts.timeoutMs) } : {}),
        },
        { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: opts.timeoutMs ?? 0 },
      );
      const counter = new PieceCounter();
      let contentLength = 0;
      for await (const message of stream) {
        const r = message.response;
        if (r.case === "downloadPersistentCacheTaskStartedResponse") {
          contentLength = Number(r.value.contentLength);
          opts.onProgress?.({ taskId, contentLength, completedLength: 0, pieces: 0 });
        } else if (r.case === "downloadPieceFinishedResponse" && r.value.piece) {
          const piece = pieceInfo(r.value.piece);
          writer?.write(piece, r.value.piece.content);
          if (!counter.add(piece.number, piece.length)) continue;
          opts.onProgress?.({ taskId, contentLength, completedLength: counter.completedLength, pieces: counter.pieces, piece });
        }
      }
      writer?.finish();
      writer = undefined;
      return { taskId, contentLength, pieces: counter.pieces, output };
    } catch (error) {
      throw toSdkError(error, socketPath, what, opts.signal);
    } finally {
      writer?.discard();
    }
  }

  return {
    socketPath,
    raw,
    download,
    downloadEvents,
    taskId: (url, identity = {}) => taskIdOf({ url, ...identity } as TaskIdParts),

    async stat(taskIdOrUrl, identity) {
      const taskId = resolveTaskId(taskIdOrUrl, identity);
      return taskInfo(await unary(`Stat of "${taskIdOrUrl}"`, () => raw.statTask({ taskId, remoteIp: DEFAULT_REMOTE_IP }, unaryOptions())));
    },

    async statLocal(taskIdOrUrl, identity) {
      const taskId = resolveTaskId(taskIdOrUrl, identity);
      return localTaskInfo(await unary(`Stat of "${taskIdOrUrl}"`, () => raw.statLocalTask({ taskId, remoteIp: DEFAULT_REMOTE_IP }, unaryOptions())));
    },

    async listLocalTasks() {
      const answer = await unary("Listing local tasks", () => raw.listLocalTasks({ remoteIp: DEFAULT_REMOTE_IP }, unaryOptions()));
      return answer.tasks.map(localTaskInfo);
    },

    async deleteTask(taskIdOrUrl, identity) {
      const taskId = resolveTaskId(taskIdOrUrl, identity);
      await unary(`Delete of "${taskIdOrUrl}"`, () => raw.deleteTask({ taskId, remoteIp: DEFAULT_REMOTE_IP }, unaryOptions()));
    },

    async importFile(path, opts = {}) {
      const what = `Import of "${path}"`;
      if (!isAbsolute(path)) throw new SdkError("invalid_argument", `${what} failed: the path must be absolute`);
      const replicas = opts.replicas ?? DEFAULT_REPLICAS;
      if (!Number.isInteger(replicas) || replicas < 1) throw new SdkError("invalid_argument", `Invalid option "replicas" ${replicas}: must be a positive integer`);
      const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
      if (!(ttlMs > 0)) throw new SdkError("invalid_argument", `Invalid option "ttlMs" ${ttlMs}: must be positive`);
      const pieceLength = checkPieceLength(opts.pieceLength);
      const task = await unary(what, () =>
        raw.uploadPersistentCacheTask(
          {
            path,
            persistentReplicaCount: BigInt(replicas),
            ttl: durationFromMs(ttlMs),
            remoteIp: DEFAULT_REMOTE_IP,
            ...(pieceLength !== undefined ? { pieceLength } : {}),
            ...(opts.tag !== undefined ? { tag: opts.tag } : {}),
            ...(opts.application !== undefined ? { application: opts.application } : {}),
            ...(opts.contentForCalculatingTaskId !== undefined ? { contentForCalculatingTaskId: opts.contentForCalculatingTaskId } : {}),
            ...(opts.timeoutMs !== undefined ? { timeout: durationFromMs(opts.timeoutMs) } : {}),
          },
          { timeoutMs: opts.timeoutMs ?? 0, ...(opts.signal ? { signal: opts.signal } : {}) },
        ),
      ).catch((error: unknown) => {
        if (opts.signal?.aborted) throw new SdkError("canceled", `${what} canceled`, { cause: error });
        throw error;
      });
      return persistentTaskInfo(task);
    },

    export: exportTask,

    async statPersistentCache(taskId) {
      if (!isTaskId(taskId)) throw new SdkError("invalid_argument", `Invalid task ID "${taskId}": expected 64 lowercase hex characters`);
      return persistentTaskInfo(await unary(`Stat of "${taskId}"`, () => raw.statPersistentCacheTask({ taskId, remoteIp: DEFAULT_REMOTE_IP }, unaryOptions())));
    },

    close() {
      transport?.close();
      transport = undefined;
    },
    [Symbol.dispose]() {
      this.close();
    },
  };
}
