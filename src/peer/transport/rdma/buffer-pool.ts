/** Registered piece buffers, reused: registering memory pins pages and costs far more than a piece read. */
import { RdmaError } from "./errors.ts";
import type { MemoryRegion, VerbsContext } from "./verbs.ts";

/** The smallest buffer registered; pieces are 4–64 MiB, smaller ones share this class. */
const MIN_CLASS = 1024 * 1024;

/** A buffer lent to one piece. */
export interface BufferLease {
  region: MemoryRegion;
  /** The first `length` bytes of the buffer. */
  view: Uint8Array;
}

/** A pool of buffers registered with one access mask, bounded in registered bytes. */
export class RegisteredBufferPool {
  readonly #context: VerbsContext;
  readonly #access: number;
  readonly #maxBytes: number;
  readonly #free = new Map<number, MemoryRegion[]>();
  readonly #lent = new Set<MemoryRegion>();
  #registered = 0;

  constructor(context: VerbsContext, access: number, maxBytes: number) {
    this.#context = context;
    this.#access = access;
    this.#maxBytes = maxBytes;
  }

  /** Bytes registered now (lent and free). */
  get registeredBytes(): number {
    return this.#registered;
  }

  /** Buffers lent now. */
  get lent(): number {
    return this.#lent.size;
  }

  /** Lends a buffer of at least `length` bytes; throws RdmaError when the budget is spent. */
  acquire(length: number): BufferLease {
    let size = MIN_CLASS;
    while (size < length) size *= 2;
    let region = this.#free.get(size)?.pop();
    if (!region) {
      this.#makeRoom(size);
      region = this.#context.registerMemory(new Uint8Array(size), this.#access);
      this.#registered += size;
    }
    this.#lent.add(region);
    return { region, view: region.buffer.subarray(0, length) };
  }

  /** Returns a buffer for reuse. */
  release(lease: BufferLease): void {
    if (!this.#lent.delete(lease.region)) return;
    const size = lease.region.buffer.byteLength;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    list.push(lease.region);
  }

  /** Deregisters every free buffer, then every lent one. */
  close(): void {
    for (const list of this.#free.values()) for (const region of list) this.#context.deregisterMemory(region);
    for (const region of this.#lent) this.#context.deregisterMemory(region);
    this.#free.clear();
    this.#lent.clear();
    this.#registered = 0;
  }

  #makeRoom(size: number): void {
    for (const list of this.#free.values()) {
      while (this.#registered + size > this.#maxBytes && list.length > 0) {
        const region = list.pop() as MemoryRegion;
        this.#context.deregisterMemory(region);
        this.#registered -= region.buffer.byteLength;
      }
    }
    if (this.#registered + size > this.#maxBytes) {
      throw new RdmaError(`RDMA buffer pool exhausted: ${this.#registered} of ${this.#maxBytes} bytes registered, ${size} more needed`);
    }
  }
}
