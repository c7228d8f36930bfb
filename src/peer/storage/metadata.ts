/** Task and piece metadata in SQLite (WAL), so a restart finds finished content again. */
import { Database } from "bun:sqlite";

/** A task's stored record. */
export interface TaskRecord {
  id: string;
  /** "standard" or "persistentCache". */
  kind: string;
  url: string;
  pieceLength: number;
  contentLength: number;
  responseHeader: Record<string, string>;
  /** "running", "succeeded", "failed" or "partial" (some pieces, none downloading). */
  state: string;
  persistent: boolean;
  ttlMs: number;
  uploadedCount: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  failedAt: number | null;
}

/** A piece's stored record. */
export interface PieceRecord {
  taskId: string;
  number: number;
  offset: number;
  length: number;
  digest: string;
  parentId: string;
  /** 0 back-to-source, 1 remote peer, 2 local. */
  trafficType: number;
  costMs: number;
  createdAt: number;
}

interface TaskRow {
  id: string;
  kind: string;
  url: string;
  piece_length: number;
  content_length: number;
  response_header: string;
  state: string;
  persistent: number;
  ttl_ms: number;
  uploaded_count: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  failed_at: number | null;
}

interface PieceRow {
  task_id: string;
  number: number;
  offset: number;
  length: number;
  digest: string;
  parent_id: string;
  traffic_type: number;
  cost_ms: number;
  created_at: number;
}

function toTask(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    kind: row.kind,
    url: row.url,
    pieceLength: row.piece_length,
    contentLength: row.content_length,
    responseHeader: JSON.parse(row.response_header) as Record<string, string>,
    state: row.state,
    persistent: row.persistent === 1,
    ttlMs: row.ttl_ms,
    uploadedCount: row.uploaded_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    failedAt: row.failed_at,
  };
}

function toPiece(row: PieceRow): PieceRecord {
  return {
    taskId: row.task_id,
    number: row.number,
    offset: row.offset,
    length: row.length,
    digest: row.digest,
    parentId: row.parent_id,
    trafficType: row.traffic_type,
    costMs: row.cost_ms,
    createdAt: row.created_at,
  };
}

/** The metadata database of one storage directory. */
export class MetadataStore {
  private readonly db: Database;

  constructor(path: string) {
    this.db = new Database(path, { create: true });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, piece_length INTEGER NOT NULL,
        content_length INTEGER NOT NULL, response_header TEXT NOT NULL, state TEXT NOT NULL,
        persistent INTEGER NOT NULL DEFAULT 0, ttl_ms INTEGER NOT NULL DEFAULT 0,
        uploaded_count INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        finished_at INTEGER, failed_at INTEGER
      );
      CREATE TABLE IF NOT EXISTS pieces (
        task_id TEXT NOT NULL, number INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
        digest TEXT NOT NULL, parent_id TEXT NOT NULL, traffic_type INTEGER NOT NULL, cost_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL, PRIMARY KEY (task_id, number)
      );
    `);
  }

  /** Inserts or replaces a task. */
  putTask(task: TaskRecord): void {
    this.db
      .query(
        `INSERT OR REPLACE INTO tasks VALUES ($id, $kind, $url, $pl, $cl, $rh, $state, $persistent, $ttl, $up, $created, $updated, $finished, $failed)`,
      )
      .run({
        $id: task.id,
        $kind: task.kind,
        $url: task.url,
        $pl: task.pieceLength,
        $cl: task.contentLength,
        $rh: JSON.stringify(task.responseHeader),
        $state: task.state,
        $persistent: task.persistent ? 1 : 0,
        $ttl: task.ttlMs,
        $up: task.uploadedCount,
        $created: task.createdAt,
        $updated: task.updatedAt,
        $finished: task.finishedAt,
        $failed: task.failedAt,
      });
  }

  /** A task, if stored. */
  getTask(id: string): TaskRecord | undefined {
    const row = this.db.query("SELECT * FROM tasks WHERE id = ?").get(id) as TaskRow | null;
    return row ? toTask(row) : undefined;
  }

  /** Every stored task. */
  listTasks(): TaskRecord[] {
    return (this.db.query("SELECT * FROM tasks").all() as TaskRow[]).map(toTask);
  }

  /** Records a finished piece. */
  putPiece(piece: PieceRecord): void {
    this.db
      .query(`INSERT OR REPLACE INTO pieces VALUES ($t, $n, $o, $l, $d, $p, $tt, $c, $ca)`)
      .run({
        $t: piece.taskId,
        $n: piece.number,
        $o: piece.offset,
        $l: piece.length,
        $d: piece.digest,
        $p: piece.parentId,
        $tt: piece.trafficType,
        $c: piece.costMs,
        $ca: piece.createdAt,
      });
  }

  /** The finished pieces of a task. */
  listPieces(taskId: string): PieceRecord[] {
    return (this.db.query("SELECT * FROM pieces WHERE task_id = ? ORDER BY number").all(taskId) as PieceRow[]).map(toPiece);
  }

  /** Removes a task and its pieces. */
  deleteTask(id: string): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM pieces WHERE task_id = ?").run(id);
      this.db.query("DELETE FROM tasks WHERE id = ?").run(id);
    })();
  }

  /** Removes everything. */
  clear(): void {
    this.db.exec("DELETE FROM pieces; DELETE FROM tasks;");
  }

  close(): void {
    this.db.close();
  }
}
