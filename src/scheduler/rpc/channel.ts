/** An async queue of responses for a server stream: pushed from anywhere, consumed by the handler's generator. */
/** A closable queue; a Channel of AnnouncePeerResponse serves as a peer's PeerStream. */
export class Channel<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private waiter: (() => void) | undefined;
  private error: unknown;
  private failed = false;
  private done = false;

  get closed(): boolean {
    return this.done;
  }

  /** Queues a message; ignored once closed. */
  send(message: T): void {
    if (this.done) return;
    this.queue.push(message);
    this.wake();
  }

  /** Ends the stream after the queued messages. */
  close(): void {
    this.done = true;
    this.wake();
  }

  /** Ends the stream with an error after the queued messages. */
  fail(error: unknown): void {
    if (this.done) return;
    this.failed = true;
    this.error = error;
    this.done = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.done) {
          if (this.failed) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.done = true;
    }
  }
}
