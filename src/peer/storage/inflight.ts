/**
 * Pieces this host is receiving right now. Bytes of a piece arrive in order (a parent streams a piece from its
 * start, a ranged GET reads it front to back), so a piece's progress is one number: how many of its bytes, from
 * its start, are in the content file. The Vortex server streams such a piece to children that accept it, as far as
 * it has arrived, and finishes with the digest once this host has verified the piece.
 */

/** How an in-flight piece ended. */
export type InflightOutcome = { kind: "finished"; digest: string } | { kind: "failed"; reason: string };

/** One piece being received. */
export class InflightPiece {
  /** Bytes from the piece's start that are in the content file. */
  written = 0;
  outcome: InflightOutcome | undefined;
  /**
   * Whether children may take the piece as it arrives. A piece arriving plain may be relayed at once; one arriving
   * compressed is better served to children once finished, as the compressed blocks it came in.
   */
  streamable = false;
  #waiters = new Set<() => void>();

  constructor(
    readonly taskId: string,
    readonly number: number,
    /** The piece's offset in the task's content. */
    readonly offset: number,
    readonly length: number,
  ) {}

  /** Records that the content file holds the piece's bytes up to `end` (an absolute position in the task). */
  advanceTo(end: number): void {
    const written = Math.min(this.length, end - this.offset);
    if (written <= this.written || this.outcome) return;
    this.written = written;
    this.#wake();
  }

  finish(digest: string): void {
    if (this.outcome) return;
    this.written = this.length;
    this.outcome = { kind: "finished", digest };
    this.#wake();
  }

  fail(reason: string): void {
    if (this.outcome) return;
    this.outcome = { kind: "failed", reason };
    this.#wake();
  }

  /** Resolves at the next progress or outcome, or after `timeoutMs` at the latest. */
  changed(timeoutMs: number): Promise<void> {
    if (this.outcome) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** The in-flight pieces of every task, by task and piece number. */
export class InflightPieces {
  #tasks = new Map<string, Map<number, InflightPiece>>();

  /** Starts tracking a piece; an earlier attempt at the same piece is failed (its readers start over). */
  begin(taskId: string, number: number, offset: number, length: number): InflightPiece {
    let pieces = this.#tasks.get(taskId);
    if (!pieces) this.#tasks.set(taskId, (pieces = new Map()));
    pieces.get(number)?.fail("the piece is being received again");
    const piece = new InflightPiece(taskId, number, offset, length);
    pieces.set(number, piece);
    return piece;
  }

  get(taskId: string, number: number): InflightPiece | undefined {
    return this.#tasks.get(taskId)?.get(number);
  }

  /** The pieces of a task in flight now. */
  of(taskId: string): Iterable<InflightPiece> {
    return this.#tasks.get(taskId)?.values() ?? [];
  }

  /** Ends a piece's tracking with an outcome; only the attempt given is ended, not a newer one. */
  end(piece: InflightPiece, outcome: InflightOutcome): void {
    if (outcome.kind === "finished") piece.finish(outcome.digest);
    else piece.fail(outcome.reason);
    const pieces = this.#tasks.get(piece.taskId);
    if (pieces?.get(piece.number) !== piece) return;
    pieces.delete(piece.number);
    if (pieces.size === 0) this.#tasks.delete(piece.taskId);
  }

  /** Fails every in-flight piece of a task (it is being deleted). */
  dropTask(taskId: string, reason: string): void {
    const pieces = this.#tasks.get(taskId);
    if (!pieces) return;
    this.#tasks.delete(taskId);
    for (const piece of pieces.values()) piece.fail(reason);
  }
}
