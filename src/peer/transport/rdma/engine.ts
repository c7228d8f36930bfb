/**
 * Moving pieces by RDMA READ over one opened device: a queue pair per piece, registered buffers from a pool,
 * work requests tracked by ID and completions polled off the event loop's critical path. Serving side: connect a
 * queue pair to the child's endpoint, fill a registered buffer and let the child read it. Downloading side:
 * connect to the parent's endpoint and read the piece into a registered buffer.
 */
import type { Logger } from "../../../common/log.ts";
import type { RdmaEndpoint, RdmaRemoteBuffer } from "../vortex/extension.ts";
import { RegisteredBufferPool, type BufferLease } from "./buffer-pool.ts";
import { RdmaError } from "./errors.ts";
import { CONSTANTS as C } from "./layout.ts";
import type { QueuePair, Verbs, VerbsContext, WorkCompletion } from "./verbs.ts";

/** Registered bytes each side may hold in its pool. */
export const DEFAULT_RDMA_POOL_BYTES = 512 * 1024 * 1024;
/** Largest single RDMA READ; a piece is split into reads of at most this size. */
export const DEFAULT_READ_CHUNK = 16 * 1024 * 1024;
/** READs outstanding per queue pair. */
const MAX_OUTSTANDING = 8;
/** Completion queue depth. */
const CQ_DEPTH = 4096;
/** Time a READ may take before the piece falls back to TCP. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;

/** ibv_wc_status names for error messages. */
const WC_STATUS: Record<number, string> = {
  1: "local length error",
  2: "local QP operation error",
  4: "local protection error",
  5: "work request flushed",
  8: "local access error",
  9: "remote invalid request",
  10: "remote access error",
  11: "remote operation error",
  12: "transport retry counter exceeded",
  13: "RNR retry counter exceeded",
};

/** A piece made readable by a child. */
export interface ServedBuffer {
  endpoint: RdmaEndpoint;
  remote: RdmaRemoteBuffer;
  /** The buffer to fill before the child reads it. */
  view: Uint8Array;
  release(): void;
}

/** A piece being read from a parent. */
export interface PendingRead {
  endpoint: RdmaEndpoint;
  /** Connects to the parent and reads `length` bytes from `remote`; resolves with them (valid until release). */
  read(parent: RdmaEndpoint, remote: RdmaRemoteBuffer, length: number): Promise<Uint8Array>;
  release(): void;
}

/** Options of {@link RdmaEngine}. */
export interface RdmaEngineOptions {
  verbs: Verbs;
  device: string;
  port?: number;
  poolBytes?: number;
  readChunk?: number;
  readTimeoutMs?: number;
  log?: Logger;
}

interface Waiter {
  resolve(completion: WorkCompletion): void;
  reject(error: Error): void;
  deadline: number;
}

/** One opened device and everything the transport needs on it. */
export class RdmaEngine {
  readonly device: string;
  readonly #context: VerbsContext;
  readonly #pool: RegisteredBufferPool;
  readonly #readChunk: number;
  readonly #readTimeoutMs: number;
  readonly #waiters = new Map<bigint, Waiter>();
  #nextWrId = 1n;
  #polling = false;
  #closed = false;

  constructor(options: RdmaEngineOptions) {
    this.device = options.device;
    this.#context = options.verbs.open(options.device, options.port ?? 1, CQ_DEPTH);
    const port = this.#context.queryPort();
    if (port.state !== C.IBV_PORT_ACTIVE) {
      this.#context.close();
      throw new RdmaError(`port ${this.#context.port} of RDMA device "${options.device}" is not active (state ${port.state})`);
    }
    this.#pool = new RegisteredBufferPool(
      this.#context,
      C.IBV_ACCESS_LOCAL_WRITE | C.IBV_ACCESS_REMOTE_READ,
      options.poolBytes ?? DEFAULT_RDMA_POOL_BYTES,
    );
    this.#readChunk = Math.min(options.readChunk ?? DEFAULT_READ_CHUNK, port.maxMessageSize || DEFAULT_READ_CHUNK);
    this.#readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  }

  /** Work requests waiting for a completion. */
  get outstanding(): number {
    return this.#waiters.size;
  }

  /** Registered buffers lent now. */
  get buffersInUse(): number {
    return this.#pool.lent;
  }

  /** Serving side: a queue pair connected to `child` and a registered buffer of `length` bytes to fill. */
  serve(child: RdmaEndpoint, length: number): ServedBuffer {
    const { qp, endpoint } = this.#newQueuePair();
    let lease: BufferLease | undefined;
    try {
      this.#context.toRtr(qp, child);
      this.#context.toRts(qp, endpoint.psn);
      lease = this.#pool.acquire(length);
    } catch (error) {
      this.#context.destroyQueuePair(qp);
      throw error;
    }
    const held = lease;
    let released = false;
    return {
      endpoint,
      remote: { address: held.region.address, rkey: held.region.rkey },
      view: held.view,
      release: () => {
        if (released) return;
        released = true;
        this.#context.destroyQueuePair(qp);
        this.#pool.release(held);
      },
    };
  }

  /** Downloading side: a queue pair in INIT whose endpoint goes in the Hello, and a buffer of `length` bytes. */
  prepare(length: number): PendingRead {
    const { qp, endpoint } = this.#newQueuePair();
    let lease: BufferLease;
    try {
      lease = this.#pool.acquire(length);
    } catch (error) {
      this.#context.destroyQueuePair(qp);
      throw error;
    }
    let released = false;
    return {
      endpoint,
      read: async (parent, remote, want) => {
        if (want > lease.view.length) throw new RdmaError(`parent offers ${want} bytes, the buffer holds ${lease.view.length}`);
        this.#context.toRtr(qp, parent);
        this.#context.toRts(qp, endpoint.psn);
        await this.#readAll(qp, lease, remote, want);
        return lease.view.subarray(0, want);
      },
      release: () => {
        if (released) return;
        released = true;
        this.#context.destroyQueuePair(qp);
        this.#pool.release(lease);
      },
    };
  }

  /** Releases the device; outstanding reads fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.values()) waiter.reject(new RdmaError("RDMA engine closed"));
    this.#waiters.clear();
    this.#pool.close();
    this.#context.close();
  }

  #newQueuePair(): { qp: QueuePair; endpoint: RdmaEndpoint } {
    if (this.#closed) throw new RdmaError("RDMA engine closed");
    const qp = this.#context.createQueuePair(MAX_OUTSTANDING * 2);
    try {
      this.#context.toInit(qp, C.IBV_ACCESS_LOCAL_WRITE | C.IBV_ACCESS_REMOTE_READ);
    } catch (error) {
      this.#context.destroyQueuePair(qp);
      throw error;
    }
    const port = this.#context.queryPort();
    const psn = Math.floor(Math.random() * 0xffffff);
    return { qp, endpoint: { lid: port.lid, port: this.#context.port, mtu: port.activeMtu, qpn: qp.qpn, psn, gid: port.gid } };
  }

  /** Reads `length` bytes in chunks, keeping up to MAX_OUTSTANDING reads in flight. */
  async #readAll(qp: QueuePair, lease: BufferLease, remote: RdmaRemoteBuffer, length: number): Promise<void> {
    let next = 0;
    const inFlight = new Set<Promise<void>>();
    let failure: Error | undefined;
    while ((next < length || inFlight.size > 0) && !failure) {
      while (next < length && inFlight.size < MAX_OUTSTANDING) {
        const offset = next;
        const size = Math.min(this.#readChunk, length - offset);
        next += size;
        const done = this.#post(qp, lease, offset, size, { address: remote.address + BigInt(offset), rkey: remote.rkey }).then(
          (completion) => {
            if (completion.byteLength !== size) throw new RdmaError(`RDMA READ moved ${completion.byteLength} of ${size} bytes`);
          },
        );
        const tracked: Promise<void> = done.then(
          () => void inFlight.delete(tracked),
          (error: Error) => {
            inFlight.delete(tracked);
            failure ??= error;
          },
        );
        inFlight.add(tracked);
      }
      if (inFlight.size > 0) await Promise.race(inFlight);
    }
    // Let every posted read finish before the buffer can be lent again.
    await Promise.all(inFlight);
    if (failure) throw failure;
  }

  #post(qp: QueuePair, lease: BufferLease, offset: number, length: number, remote: RdmaRemoteBuffer): Promise<WorkCompletion> {
    const wrId = this.#nextWrId++;
    const completion = new Promise<WorkCompletion>((resolve, reject) => {
      this.#waiters.set(wrId, { resolve, reject, deadline: Date.now() + this.#readTimeoutMs });
    });
    try {
      this.#context.postRead(qp, wrId, lease.region, offset, length, remote);
    } catch (error) {
      this.#waiters.delete(wrId);
      return Promise.reject(error);
    }
    void this.#poll();
    return completion;
  }

  /** Polls the completion queue while work requests are outstanding, yielding to the event loop between polls. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      while (this.#waiters.size > 0 && !this.#closed) {
        const completions = this.#context.poll(32);
        for (const completion of completions) {
          const waiter = this.#waiters.get(completion.wrId);
          if (!waiter) continue;
          this.#waiters.delete(completion.wrId);
          if (completion.status === C.IBV_WC_SUCCESS) waiter.resolve(completion);
          else waiter.reject(new RdmaError(`RDMA READ failed: ${WC_STATUS[completion.status] ?? `status ${completion.status}`}`));
        }
        if (completions.length === 0) {
          const now = Date.now();
          for (const [wrId, waiter] of this.#waiters) {
            if (now < waiter.deadline) continue;
            this.#waiters.delete(wrId);
            waiter.reject(new RdmaError(`RDMA READ timed out after ${this.#readTimeoutMs} ms`));
          }
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.#polling = false;
    }
  }
}
