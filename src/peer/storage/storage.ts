/** Task content on disk (one file per task, pieces at their offsets) with metadata and change notification. */
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import { StorageError, TaskNotFound, errorMessage } from "../../common/errors.ts";
import { writeAllSync } from "../../common/file-write.ts";
import type { Logger } from "../../common/log.ts";
import { MetadataStore, type PieceRecord, type TaskRecord } from "./metadata.ts";
import { BufferReclaimer } from "./reclaim.ts";
import { InflightPieces, type InflightPiece } from "./inflight.ts";

/** Kinds of stored tasks and their content folders. */
export const CONTENT_DIRS = { standard: "tasks", persistentCache: "persistent-cache-tasks" } as const;

/** A kind of stored task. */
export type TaskKind = keyof typeof CONTENT_DIRS;

/** A task held in storage. */
export interface StoredTask {
  record: TaskRecord;
  pieces: Map<number, PieceRecord>;
  path: string;
}

/** Options of createStorage(). */
export interface StorageOptions {
  dir: string;
  /** Keep content and metadata across restarts (default: wipe at start, as Dragonfly does). */
  keep?: boolean;
  log: Logger;
}

/** Storage of one daemon. */
export class Storage {
  private metadata!: MetadataStore;
  private readonly tasks = new Map<string, StoredTask>();
  private readonly fds = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly reclaimer = new BufferReclaimer();
  /** Pieces being received now, which the Vortex server may stream to children before they are finished. */
  readonly inflight = new InflightPieces();

  constructor(private readonly options: StorageOptions) {}

  /** Opens the metadata database and loads (or wipes) what is stored. */
  start(): void {
    const { dir } = this.options;
    fs.mkdirSync(join(dir, "content"), { recursive: true });
    if (!this.options.keep) {
      for (const sub of Object.values(CONTENT_DIRS)) fs.rmSync(join(dir, "content", sub), { recursive: true, force: true });
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(join(dir, `metadata.db${suffix}`), { force: true });
    }
    this.metadata = new MetadataStore(join(dir, "metadata.db"));
    for (const record of this.metadata.listTasks()) {
      const path = this.contentPath(record.id, record.kind as TaskKind);
      if (!fs.existsSync(path)) {
        this.metadata.deleteTask(record.id);
        continue;
      }
      if (record.state === "running") record.state = "failed";
      const pieces = new Map(this.metadata.listPieces(record.id).map((p) => [p.number, p]));
      this.tasks.set(record.id, { record, pieces, path });
    }
  }

  /** Closes files and the database. */
  stop(): void {
    for (const id of [...this.fds.keys()]) this.closeFd(id);
    this.metadata?.close();
  }

  /** Where a task's content lives. */
  contentPath(taskId: string, kind: TaskKind = "standard"): string {
    return join(this.options.dir, "content", CONTENT_DIRS[kind], taskId.slice(0, 3), taskId);
  }

  /** A stored task, if any. */
  get(taskId: string): StoredTask | undefined {
    return this.tasks.get(taskId);
  }

  /** A stored task, or TaskNotFound. */
  require(taskId: string): StoredTask {
    const task = this.tasks.get(taskId);
    if (!task) throw new TaskNotFound(taskId);
    return task;
  }

  /** Every stored task. */
  list(): StoredTask[] {
    return [...this.tasks.values()];
  }

  /** Bytes free on the storage filesystem. */
  freeBytes(): number {
    const stats = fs.statfsSync(this.options.dir);
    return Number(stats.bavail) * Number(stats.bsize);
  }

  /** Total and used bytes of the storage filesystem. */
  diskUsage(): { total: number; used: number; free: number } {
    const stats = fs.statfsSync(this.options.dir);
    const total = Number(stats.blocks) * Number(stats.bsize);
    const free = Number(stats.bavail) * Number(stats.bsize);
    return { total, used: total - free, free };
  }

  /**
   * Creates (or resumes, when geometry matches) a task's record and content file.
   * Fails with StorageError when the disk cannot hold the content.
   */
  create(input: {
    id: string;
    url: string;
    pieceLength: number;
    contentLength: number;
    responseHeader?: Record<string, string>;
    kind?: TaskKind;
    persistent?: boolean;
    ttlMs?: number;
  }): StoredTask {
    const kind = input.kind ?? "standard";
    const existing = this.tasks.get(input.id);
    if (
      existing &&
      existing.record.pieceLength === input.pieceLength &&
      existing.record.contentLength === input.contentLength &&
      fs.existsSync(existing.path)
    ) {
      if (existing.record.state !== "succeeded") this.update(existing, { state: "running", failedAt: null });
      return existing;
    }
    if (existing) this.delete(input.id);
    const free = this.freeBytes();
    if (input.contentLength > free) {
      throw new StorageError(
        `Cannot store task "${input.id}": needs ${input.contentLength} bytes but only ${free} are free in "${this.options.dir}"`,
      );
    }
    const path = this.contentPath(input.id, kind);
    try {
      fs.mkdirSync(dirname(path), { recursive: true });
      const fd = fs.openSync(path, "w+");
      try {
        fs.ftruncateSync(fd, input.contentLength);
      } finally {
        fs.closeSync(fd);
      }
    } catch (cause) {
      throw new StorageError(`Cannot create content file for task "${input.id}": ${errorMessage(cause)}`, { cause });
    }
    const now = Date.now();
    const record: TaskRecord = {
      id: input.id,
      kind,
      url: input.url,
      pieceLength: input.pieceLength,
      contentLength: input.contentLength,
      responseHeader: input.responseHeader ?? {},
      state: input.contentLength === 0 ? "succeeded" : "running",
      persistent: input.persistent ?? false,
      ttlMs: input.ttlMs ?? 0,
      uploadedCount: 0,
      createdAt: now,
      updatedAt: now,
      finishedAt: input.contentLength === 0 ? now : null,
      failedAt: null,
    };
    this.metadata.putTask(record);
    const task: StoredTask = { record, pieces: new Map(), path };
    this.tasks.set(input.id, task);
    return task;
  }

  private fd(taskId: string): number {
    let fd = this.fds.get(taskId);
    if (fd === undefined) {
      fd = fs.openSync(this.require(taskId).path, "r+");
      this.fds.set(taskId, fd);
    }
    return fd;
  }

  private closeFd(taskId: string): void {
    const fd = this.fds.get(taskId);
    if (fd === undefined) return;
    this.fds.delete(taskId);
    fs.closeSync(fd);
  }

  /**
   * Writes bytes of a task at an absolute position. Synchronous: a write into the page cache costs less
   * CPU than a round trip through the thread pool for every network chunk (measured: about 2 against
   * 3–4 CPU seconds per GB received).
   */
  write(taskId: string, chunk: Uint8Array, position: number): void {
    try {
      writeAllSync(this.fd(taskId), chunk, position);
      this.reclaimer.account(chunk.length);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      const reason = code === "ENOSPC" ? "disk full" : errorMessage(cause);
      throw new StorageError(`Cannot write task "${taskId}" at offset ${position}: ${reason}`, { cause });
    }
  }

  /** Reads bytes of a task. */
  read(taskId: string, position: number, length: number): Uint8Array {
    const buffer = new Uint8Array(length);
    const fd = fs.openSync(this.require(taskId).path, "r");
    try {
      let read = 0;
      while (read < length) {
        const n = fs.readSync(fd, buffer, read, length - read, position + read);
        if (n === 0) break;
        read += n;
      }
      return buffer.subarray(0, read);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Records a finished, verified piece and wakes waiters. */
  finishPiece(piece: PieceRecord): void {
    const task = this.require(piece.taskId);
    task.pieces.set(piece.number, piece);
    this.metadata.putPiece(piece);
    task.record.updatedAt = Date.now();
    const inflight = this.inflight.get(piece.taskId, piece.number);
    if (inflight) this.inflight.end(inflight, { kind: "finished", digest: piece.digest });
    this.notify(piece.taskId);
  }

  /**
   * Starts receiving a piece: once it is streamable, and until finishPiece() or abortPiece(), children that accept
   * streamed pieces may take its bytes as they land (the caller reports them with `advanceTo`).
   */
  beginPiece(taskId: string, number: number, offset: number, length: number, options: { streamable?: boolean } = {}): InflightPiece {
    const piece = this.inflight.begin(taskId, number, offset, length);
    if (options.streamable) this.markStreamable(piece);
    return piece;
  }

  /** Lets children take an in-flight piece as it arrives (it is arriving plain); SyncPieces streams announce it. */
  markStreamable(piece: InflightPiece): void {
    if (piece.streamable || piece.outcome) return;
    piece.streamable = true;
    this.notify(piece.taskId);
  }

  /** Ends a piece that could not be received; its streaming readers get `reason`. A no-op once finished. */
  abortPiece(piece: InflightPiece, reason: string): void {
    this.inflight.end(piece, { kind: "failed", reason });
  }

  /** Marks a task succeeded. */
  succeed(taskId: string): void {
    const task = this.require(taskId);
    this.closeFd(taskId);
    this.update(task, { state: "succeeded", finishedAt: Date.now() });
  }

  /** Marks a task failed (its finished pieces stay and can be served and resumed). */
  fail(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (task && task.record.state !== "succeeded") this.update(task, { state: "failed", failedAt: Date.now() });
  }

  /** Marks a task partial: a download that wanted only some of its pieces ended; the rest can follow later. */
  leavePartial(taskId: string): void {
    const task = this.require(taskId);
    this.closeFd(taskId);
    if (task.record.state !== "succeeded") this.update(task, { state: "partial" });
  }

  /** Updates fields of a task's record. */
  update(task: StoredTask, fields: Partial<TaskRecord>): void {
    Object.assign(task.record, fields, { updatedAt: Date.now() });
    this.metadata.putTask(task.record);
    this.notify(task.record.id);
  }

  /** Counts one upload of a task's piece. */
  countUpload(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (task) task.record.uploadedCount++;
  }

  /** Removes a task's content and metadata. */
  delete(taskId: string): boolean {
    const task = this.tasks.get(taskId);
    this.closeFd(taskId);
    this.tasks.delete(taskId);
    this.inflight.dropTask(taskId, "the task was deleted");
    this.metadata.deleteTask(taskId);
    if (task) fs.rmSync(task.path, { force: true });
    this.notify(taskId);
    return task !== undefined;
  }

  /** Resolves on the next change of a task (a piece, a state, deletion), or when `signal` aborts. */
  waitForChange(taskId: string, signal?: AbortSignal, timeoutMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private notify(taskId: string): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    this.waiters.delete(taskId);
    for (const wake of set) wake();
  }

  /**
   * Puts a finished task at `output`: a hard link when possible, a copy otherwise; with `range`, a copy of those
   * bytes only (a ranged download holds only the pieces of its range).
   * Writes through a temporary name so a failure never leaves a partial file at `output`.
   */
  export(
    taskId: string,
    output: string,
    options: { forceHardLink?: boolean; overwrite?: boolean; range?: { start: number; length: number } } = {},
  ): "link" | "copy" {
    const task = this.require(taskId);
    if (fs.existsSync(output)) {
      if (!options.overwrite) throw new StorageError(`Cannot write "${output}": file exists (use --overwrite)`);
    }
    fs.mkdirSync(dirname(output), { recursive: true });
    const temporary = `${output}.libellula-${process.pid}-${Date.now()}.tmp`;
    try {
      if (options.range) {
        copyRange(task.path, temporary, options.range.start, options.range.length);
        fs.renameSync(temporary, output);
        return "copy";
      }
      try {
        fs.linkSync(task.path, temporary);
        fs.renameSync(temporary, output);
        return "link";
      } catch (linkError) {
        fs.rmSync(temporary, { force: true });
        if (options.forceHardLink) throw new StorageError(`Cannot hard-link "${output}": ${errorMessage(linkError)}`);
        fs.copyFileSync(task.path, temporary);
        fs.renameSync(temporary, output);
        return "copy";
      }
    } catch (cause) {
      fs.rmSync(temporary, { force: true });
      if (cause instanceof StorageError) throw cause;
      throw new StorageError(`Cannot write "${output}": ${errorMessage(cause)}`, { cause });
    }
  }
}

/** Bytes per read when copying a range of a content file. */
const RANGE_COPY_BUFFER = 1024 * 1024;

/** Copies `length` bytes of `from` at `start` into a new file `to`. */
function copyRange(from: string, to: string, start: number, length: number): void {
  const input = fs.openSync(from, "r");
  try {
    const output = fs.openSync(to, "w");
    try {
      const buffer = new Uint8Array(Math.min(RANGE_COPY_BUFFER, Math.max(length, 1)));
      for (let done = 0; done < length; ) {
        const n = fs.readSync(input, buffer, 0, Math.min(buffer.length, length - done), start + done);
        if (n === 0) throw new Error(`content ends at offset ${start + done}`);
        writeAllSync(output, buffer.subarray(0, n), done);
        done += n;
      }
    } finally {
      fs.closeSync(output);
    }
  } finally {
    fs.closeSync(input);
  }
}
