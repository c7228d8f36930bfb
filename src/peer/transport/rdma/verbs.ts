/**
 * The verbs the RDMA transport uses, as an interface: implemented by the libibverbs bindings (ffi-verbs.ts) and
 * by an in-process fabric (soft-verbs.ts) that lets the logic above the verbs run where no RDMA device exists.
 */

/** An RDMA device found by enumeration. */
export interface DeviceInfo {
  name: string;
  guid: bigint;
}

/** What a port reports. */
export interface PortInfo {
  /** ibv_port_state; 4 is ACTIVE. */
  state: number;
  /** ibv_mtu of the active MTU. */
  activeMtu: number;
  lid: number;
  /** 1 InfiniBand, 2 Ethernet (RoCE). */
  linkLayer: number;
  /** Largest message one work request may move. */
  maxMessageSize: number;
  gid: Uint8Array;
}

/** A registered buffer. */
export interface MemoryRegion {
  readonly buffer: Uint8Array;
  readonly address: bigint;
  readonly lkey: number;
  readonly rkey: number;
}

/** A reliable-connected queue pair. */
export interface QueuePair {
  readonly qpn: number;
}

/** The remote side a queue pair is connected to in RTR. */
export interface RemoteQueuePair {
  qpn: number;
  psn: number;
  lid: number;
  gid: Uint8Array;
  mtu: number;
}

/** A finished work request. */
export interface WorkCompletion {
  wrId: bigint;
  /** ibv_wc_status; 0 is success. */
  status: number;
  byteLength: number;
}

/** One opened device with its protection domain and completion queue. */
export interface VerbsContext {
  readonly device: string;
  readonly port: number;
  queryPort(): PortInfo;
  registerMemory(buffer: Uint8Array, access: number): MemoryRegion;
  deregisterMemory(region: MemoryRegion): void;
  createQueuePair(maxSendWr: number): QueuePair;
  /** RESET → INIT, allowing `access` from the remote side. */
  toInit(qp: QueuePair, access: number): void;
  /** INIT → RTR, connected to `remote`. */
  toRtr(qp: QueuePair, remote: RemoteQueuePair): void;
  /** RTR → RTS, sending from `psn`. */
  toRts(qp: QueuePair, psn: number): void;
  destroyQueuePair(qp: QueuePair): void;
  /** Posts one signalled RDMA READ of `length` bytes from `remote` into `local` at `offset`. */
  postRead(qp: QueuePair, wrId: bigint, local: MemoryRegion, offset: number, length: number, remote: { address: bigint; rkey: number }): void;
  /** Up to `max` completions, without waiting. */
  poll(max: number): WorkCompletion[];
  close(): void;
}

/** Enumerates and opens devices. */
export interface Verbs {
  /** The library that implements these verbs, for logs. */
  readonly name: string;
  devices(): DeviceInfo[];
  open(device: string, port: number, cqDepth: number): VerbsContext;
}
