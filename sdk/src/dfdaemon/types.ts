/** Plain data the dfdaemon client takes and returns: numbers instead of 64-bit integers, dates instead of timestamps. */

/** How a piece reached this peer. */
export type TrafficType = "back_to_source" | "remote_peer" | "local_peer" | "unknown";

/** A finished piece of a task. */
export interface PieceInfo {
  number: number;
  offset: number;
  length: number;
  /** `crc32:<decimal>`. */
  digest: string;
  /** The peer it came from, when it came from one. */
  parentId?: string;
  trafficType: TrafficType;
  /** How long it took, ms. */
  costMs: number;
}

/** Progress of a download or an export, after every piece. */
export interface Progress {
  taskId: string;
  /** Bytes of the task, known once the download started. */
  contentLength: number;
  /** Bytes of finished pieces so far. */
  completedLength: number;
  /** Finished pieces so far. */
  pieces: number;
  /** The piece that just finished; absent for the first event. */
  piece?: PieceInfo;
}

/** One event of a download stream. */
export type DownloadEvent =
  | {
      type: "started";
      taskId: string;
      peerId: string;
      hostId: string;
      contentLength: number;
      /** Headers of the origin's answer. */
      responseHeader: Record<string, string>;
      /** Whether the task was already complete on this peer. */
      finished: boolean;
    }
  | {
      type: "piece";
      taskId: string;
      piece: PieceInfo;
      /** The piece's bytes, only with `transfer: true`. */
      content?: Uint8Array;
      completedLength: number;
      contentLength: number;
      pieces: number;
    };

/** Options shared by calls that stream. */
export interface CallOptions {
  /** Aborts the call; it then rejects with an SdkError of code `canceled`. */
  signal?: AbortSignal;
  /** Deadline of the whole call, ms. */
  timeoutMs?: number;
}

/** Which task a URL means: every field that goes into its task ID. */
export interface TaskIdentity {
  /** Part of the task ID. */
  tag?: string;
  /** Part of the task ID. */
  application?: string;
  /** A fixed piece length, at least 4 MiB; part of the task ID. */
  pieceLength?: number;
  /** Query keys ignored in the task ID; dfget's signature keys when absent. */
  filteredQueryParams?: readonly string[];
  /** When set, the task ID is the sha256 of this text alone. */
  contentForCalculatingTaskId?: string;
}

/** Options of `download()`. */
export interface DownloadOptions extends CallOptions, TaskIdentity {
  /**
   * Absolute path of the file to write. The daemon writes it (hard link or copy) unless `transfer` is set, in
   * which case the bytes come over the socket and this process writes them. Without it the task is only cached.
   */
  output?: string;
  /** Receive piece bytes over the socket (for a daemon that cannot reach `output`, e.g. another container). */
  transfer?: boolean;
  /** Verify the whole file: `sha256:<hex>` (also crc32, sha512, md5, sha1). */
  digest?: string;
  /** Headers sent to the origin. */
  headers?: Record<string, string>;
  /** Priority 0 (highest) to 6 (lowest, the default). */
  priority?: number;
  /** Replace an existing output file. */
  overwrite?: boolean;
  /** Fail instead of copying when the output cannot be hard-linked. */
  forceHardLink?: boolean;
  /** Never fetch from the origin. */
  disableBackToSource?: boolean;
  /** Called after the download starts and after every piece. */
  onProgress?: (progress: Progress) => void;
}

/** What `download()` resolves with. */
export interface DownloadResult {
  taskId: string;
  peerId: string;
  hostId: string;
  contentLength: number;
  /** Pieces reported during this download. */
  pieces: number;
  /** Headers of the origin's answer. */
  responseHeader: Record<string, string>;
  /** The file written, when `output` was given. */
  output?: string;
  /** Bytes of pieces by how they arrived: from the origin, other peers or this peer's storage. */
  bytesByTrafficType: Record<TrafficType, number>;
}

/** A task as the cluster knows it (`stat`). */
export interface TaskInfo {
  id: string;
  url: string;
  state: string;
  contentLength: number;
  pieceCount: number;
  peerCount: number;
  hasAvailablePeer: boolean;
  tag?: string;
  application?: string;
  digest?: string;
  createdAt?: Date;
  updatedAt?: Date;
}

/** A task as stored on this peer (`statLocal`, `listLocalTasks`). */
export interface LocalTaskInfo {
  id: string;
  contentLength: number;
  pieceLength: number;
  responseHeader: Record<string, string>;
  uploadedCount: number;
  createdAt?: Date;
  updatedAt?: Date;
  finishedAt?: Date;
  failedAt?: Date;
}

/** Options of `importFile()`. */
export interface ImportOptions extends CallOptions {
  /** How long the cluster keeps the task, ms (1 s to 7 days); 1 hour when absent. */
  ttlMs?: number;
  /** Persistent copies in the cluster, this host's included; 2 when absent. */
  replicas?: number;
  /** Part of the task ID. */
  tag?: string;
  /** Part of the task ID. */
  application?: string;
  /** A fixed piece length, at least 4 MiB; part of the task ID. */
  pieceLength?: number;
  /** When set, the task ID is the sha256 of this text instead of the file's bytes. */
  contentForCalculatingTaskId?: string;
}

/** A persistent cache task (`importFile`, `statPersistentCache`). */
export interface PersistentCacheTaskInfo {
  id: string;
  state: string;
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  /** Persistent copies wanted. */
  replicas: number;
  currentPersistentReplicas: number;
  currentReplicas: number;
  tag?: string;
  application?: string;
  ttlMs: number;
  createdAt?: Date;
  updatedAt?: Date;
}

/** Options of `export()`. */
export interface ExportOptions extends CallOptions {
  /** Receive piece bytes over the socket and write the file here instead of letting the daemon write it. */
  transfer?: boolean;
  /** Verify the whole file: `sha256:<hex>`. */
  digest?: string;
  /** Replace an existing output file. */
  overwrite?: boolean;
  /** Fail instead of copying when the output cannot be hard-linked. */
  forceHardLink?: boolean;
  /** Keep the copy made here as a persistent replica. */
  persistent?: boolean;
  /** As given at import. */
  tag?: string;
  /** As given at import. */
  application?: string;
  /** Called after the export starts and after every piece. */
  onProgress?: (progress: Progress) => void;
}

/** What `export()` resolves with. */
export interface ExportResult {
  taskId: string;
  contentLength: number;
  pieces: number;
  output: string;
}
