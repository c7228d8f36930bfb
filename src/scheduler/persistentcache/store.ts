/**
 * The persistent cache metadata on disk, so a scheduler restart keeps every imported task and where its copies
 * are. Succeeded tasks and their succeeded peers are written to a SQLite file (WAL) whenever they change, at
 * most once a sweep; uploads in progress are not kept (their importer retries). At start-up the tasks come
 * back with their creation time and TTL; each copy comes back when its host announces itself again, and copies
 * whose host does not return within the grace period are dropped (then replicated elsewhere as usual).
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PersistentCacheResource } from "./resource.ts";
import { PersistentCacheTask, PersistentCacheTaskState } from "./task.ts";

/** The file name of the metadata database in the data directory. */
export const PERSISTENT_CACHE_DB = "persistent-cache.db";

/** A task row. */
interface TaskRow {
  id: string;
  replica_count: number;
  tag: string | null;
  application: string | null;
  piece_length: number;
  content_length: number;
  piece_count: number;
  ttl_ms: number;
  created_at: number;
}

/** A copy row. */
interface CopyRow {
  task_id: string;
  peer_id: string;
  host_id: string;
  persistent: number;
}

/** What a snapshot holds, in a stable order, to tell whether anything changed. */
function fingerprint(tasks: TaskRow[], copies: CopyRow[]): string {
  return JSON.stringify([tasks, copies]);
}

/** Reads and writes the persistent cache metadata of one scheduler. */
export class PersistentCacheStore {
  readonly path: string;
  private readonly db: Database;
  private last = "";

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, PERSISTENT_CACHE_DB);
    this.db = new Database(this.path, { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec(`CREATE TABLE IF NOT EXISTS task (
      id TEXT PRIMARY KEY, replica_count INTEGER NOT NULL, tag TEXT, application TEXT, piece_length INTEGER NOT NULL,
      content_length INTEGER NOT NULL, piece_count INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS copy (
      task_id TEXT NOT NULL REFERENCES task(id) ON DELETE CASCADE, peer_id TEXT NOT NULL, host_id TEXT NOT NULL,
      persistent INTEGER NOT NULL, PRIMARY KEY (task_id, peer_id))`);
  }

  /**
   * Loads the kept tasks into the resource (expired ones are skipped), each with the copies to attach when
   * their hosts come back within `graceMs`; returns the tasks restored.
   */
  restore(resource: PersistentCacheResource, graceMs: number, now = Date.now()): PersistentCacheTask[] {
    const out = new Map<string, PersistentCacheTask>();
    const tasks = this.db.query<TaskRow, []>("SELECT * FROM task").all();
    const copies = this.db.query<CopyRow, []>("SELECT * FROM copy").all();
    for (const row of tasks) {
      if (row.created_at + row.ttl_ms <= now || resource.loadTask(row.id)) continue;
      const task = new PersistentCacheTask(
        {
          id: row.id,
          persistentReplicaCount: row.replica_count,
          ...(row.tag !== null ? { tag: row.tag } : {}),
          ...(row.application !== null ? { application: row.application } : {}),
          pieceLength: row.piece_length,
          contentLength: row.content_length,
          pieceCount: row.piece_count,
          ttlMs: row.ttl_ms,
        },
        row.created_at,
      );
      task.event("Upload", now);
      task.event("Succeeded", now);
      task.awaitedUntil = now + graceMs;
      resource.storeTask(task);
      out.set(task.id, task);
    }
    for (const row of copies) {
      out.get(row.task_id)?.awaitedCopies.set(row.host_id, { peerId: row.peer_id, persistent: row.persistent === 1 });
    }
    return [...out.values()];
  }

  /** Writes the succeeded tasks and their succeeded copies (plus copies still awaited) when they changed. */
  save(resource: PersistentCacheResource): boolean {
    const tasks: TaskRow[] = [];
    const copies: CopyRow[] = [];
    for (const task of resource.allTasks().sort((a, b) => a.id.localeCompare(b.id))) {
      if (task.state !== PersistentCacheTaskState.Succeeded) continue;
      tasks.push({
        id: task.id,
        replica_count: task.persistentReplicaCount,
        tag: task.tag ?? null,
        application: task.application ?? null,
        piece_length: task.pieceLength,
        content_length: task.contentLength,
        piece_count: task.pieceCount,
        ttl_ms: task.ttlMs,
        created_at: task.createdAt,
      });
      const rows: CopyRow[] = [];
      for (const peer of task.succeededPeers()) {
        rows.push({ task_id: task.id, peer_id: peer.id, host_id: peer.host.id, persistent: peer.persistent ? 1 : 0 });
      }
      for (const [hostId, copy] of task.awaitedCopies) {
        rows.push({ task_id: task.id, peer_id: copy.peerId, host_id: hostId, persistent: copy.persistent ? 1 : 0 });
      }
      copies.push(...rows.sort((a, b) => a.peer_id.localeCompare(b.peer_id)));
    }
    const print = fingerprint(tasks, copies);
    if (print === this.last) return false;
    const insertTask = this.db.query(
      "INSERT INTO task VALUES ($id, $replica_count, $tag, $application, $piece_length, $content_length, $piece_count, $ttl_ms, $created_at)",
    );
    const insertCopy = this.db.query("INSERT OR REPLACE INTO copy VALUES ($task_id, $peer_id, $host_id, $persistent)");
    this.db.transaction(() => {
      this.db.exec("DELETE FROM copy");
      this.db.exec("DELETE FROM task");
      for (const row of tasks) insertTask.run({ ...row });
      for (const row of copies) insertCopy.run({ ...row });
    })();
    this.last = print;
    return true;
  }

  close(): void {
    this.db.close();
  }
}
