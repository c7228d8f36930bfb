/**
 * The verbs through bun:ffi to libibverbs.so.1. Structures are built and read with the offsets of layout.ts
 * (checked against the headers by a compiled C program); ibv_post_send and ibv_poll_cq are inline functions in
 * verbs.h, so they are called through the context's ops table as the header does.
 */
import { CFunction, dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { CONSTANTS as C, GID_SIZE, offsetOf, STRUCTS } from "./layout.ts";
import type { DeviceInfo, MemoryRegion, PortInfo, QueuePair, RemoteQueuePair, Verbs, VerbsContext, WorkCompletion } from "./verbs.ts";
import { RdmaError } from "./errors.ts";

/** The library the bindings load. */
export const LIBIBVERBS = "libibverbs.so.1";

const SYMBOLS = {
  ibv_get_device_list: { args: [FFIType.ptr], returns: FFIType.ptr },
  ibv_free_device_list: { args: [FFIType.ptr], returns: FFIType.void },
  ibv_get_device_name: { args: [FFIType.ptr], returns: FFIType.cstring },
  ibv_get_device_guid: { args: [FFIType.ptr], returns: FFIType.u64 },
  ibv_open_device: { args: [FFIType.ptr], returns: FFIType.ptr },
  ibv_close_device: { args: [FFIType.ptr], returns: FFIType.i32 },
  ibv_query_port: { args: [FFIType.ptr, FFIType.u8, FFIType.ptr], returns: FFIType.i32 },
  ibv_query_gid: { args: [FFIType.ptr, FFIType.u8, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  ibv_alloc_pd: { args: [FFIType.ptr], returns: FFIType.ptr },
  ibv_dealloc_pd: { args: [FFIType.ptr], returns: FFIType.i32 },
  ibv_reg_mr: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.ptr },
  ibv_dereg_mr: { args: [FFIType.ptr], returns: FFIType.i32 },
  ibv_create_cq: { args: [FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.ptr },
  ibv_destroy_cq: { args: [FFIType.ptr], returns: FFIType.i32 },
  ibv_create_qp: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.ptr },
  ibv_modify_qp: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  ibv_destroy_qp: { args: [FFIType.ptr], returns: FFIType.i32 },
} as const;

type Library = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

/** Outstanding RDMA READs each queue pair may have (the responder's limit is negotiated the same way). */
const MAX_RD_ATOMIC = 16;
/** QP timeout exponent (4.096 µs × 2^14 ≈ 67 ms) and retries, the values most RDMA applications use. */
const QP_TIMEOUT = 14;
const QP_RETRY = 7;
const MIN_RNR_TIMER = 12;

/** Loads libibverbs; throws RdmaError naming the library when it cannot be loaded. */
export function loadFfiVerbs(path: string = LIBIBVERBS): Verbs {
  let lib: Library;
  try {
    lib = dlopen(path, SYMBOLS).symbols;
  } catch (error) {
    throw new RdmaError(`${path} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
  return {
    name: path,
    devices: () => withDeviceList(lib, (list, count) => {
      const out: DeviceInfo[] = [];
      for (let i = 0; i < count; i++) {
        const device = read.ptr(list, i * 8) as Pointer;
        out.push({ name: String(lib.ibv_get_device_name(device)), guid: BigInt(lib.ibv_get_device_guid(device)) });
      }
      return out;
    }),
    open: (name, port, cqDepth) => openContext(lib, name, port, cqDepth),
  };
}

function withDeviceList<T>(lib: Library, use: (list: Pointer, count: number) => T): T {
  const count = new Int32Array(1);
  const list = lib.ibv_get_device_list(ptr(count)) as Pointer | null;
  // NULL without a device list at all: the kernel has no verbs support (no ib_uverbs), so there is no device.
  if (!list) return use(0 as Pointer, 0);
  try {
    return use(list, count[0] as number);
  } finally {
    lib.ibv_free_device_list(list);
  }
}

function setPtr(view: DataView, offset: number, value: Pointer | null): void {
  view.setBigUint64(offset, BigInt(value ?? 0), true);
}

function openContext(lib: Library, name: string, port: number, cqDepth: number): VerbsContext {
  const context = withDeviceList(lib, (list, count) => {
    for (let i = 0; i < count; i++) {
      const device = read.ptr(list, i * 8) as Pointer;
      if (String(lib.ibv_get_device_name(device)) === name) return lib.ibv_open_device(device) as Pointer | null;
    }
    throw new RdmaError(`RDMA device "${name}" not found`);
  });
  if (!context) throw new RdmaError(`ibv_open_device failed for "${name}"`);
  const pd = lib.ibv_alloc_pd(context) as Pointer | null;
  if (!pd) {
    lib.ibv_close_device(context);
    throw new RdmaError(`ibv_alloc_pd failed on "${name}"`);
  }
  const cq = lib.ibv_create_cq(context, cqDepth, null, null, 0) as Pointer | null;
  if (!cq) {
    lib.ibv_dealloc_pd(pd);
    lib.ibv_close_device(context);
    throw new RdmaError(`ibv_create_cq failed on "${name}"`);
  }
  // Inline verbs: call the provider's functions from the context's ops table, as verbs.h does.
  const pollCq = CFunction({ ptr: read.ptr(context, offsetOf("ibv_context", "ops.poll_cq")) as Pointer, args: [FFIType.ptr, FFIType.i32, FFIType.ptr], returns: FFIType.i32 });
  const postSend = CFunction({ ptr: read.ptr(context, offsetOf("ibv_context", "ops.post_send")) as Pointer, args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 });

  const regions = new Map<MemoryRegion, Pointer>();
  const qps = new Map<QueuePair, Pointer>();
  const qpOf = (qp: QueuePair): Pointer => {
    const handle = qps.get(qp);
    if (!handle) throw new RdmaError(`Queue pair ${qp.qpn} is not open`);
    return handle;
  };
  let portInfo: PortInfo | undefined;
  const queryPort = (): PortInfo => {
    const attr = new Uint8Array(STRUCTS.ibv_port_attr.size);
    const rc = lib.ibv_query_port(context, port, ptr(attr));
    if (rc !== 0) throw new RdmaError(`ibv_query_port(${name}, ${port}) failed with ${rc}`);
    const view = new DataView(attr.buffer);
    const gid = new Uint8Array(GID_SIZE);
    if (lib.ibv_query_gid(context, port, 0, ptr(gid)) !== 0) gid.fill(0);
    portInfo = {
      state: view.getUint32(offsetOf("ibv_port_attr", "state"), true),
      activeMtu: view.getUint32(offsetOf("ibv_port_attr", "active_mtu"), true),
      lid: view.getUint16(offsetOf("ibv_port_attr", "lid"), true),
      linkLayer: view.getUint8(offsetOf("ibv_port_attr", "link_layer")),
      maxMessageSize: view.getUint32(offsetOf("ibv_port_attr", "max_msg_sz"), true),
      gid,
    };
    return portInfo;
  };
  const modify = (qp: QueuePair, fill: (view: DataView, bytes: Uint8Array) => void, mask: number, step: string) => {
    const attr = new Uint8Array(STRUCTS.ibv_qp_attr.size);
    fill(new DataView(attr.buffer), attr);
    const rc = lib.ibv_modify_qp(qpOf(qp), ptr(attr), mask);
    if (rc !== 0) throw new RdmaError(`ibv_modify_qp to ${step} failed with ${rc} on queue pair ${qp.qpn}`);
  };
  const wc = new Uint8Array(STRUCTS.ibv_wc.size * 64);

  return {
    device: name,
    port,
    queryPort,
    registerMemory(buffer, access) {
      const mr = lib.ibv_reg_mr(pd, ptr(buffer), buffer.byteLength, access) as Pointer | null;
      if (!mr) throw new RdmaError(`ibv_reg_mr failed for ${buffer.byteLength} bytes (locked memory limit?)`);
      const region: MemoryRegion = {
        buffer,
        address: read.u64(mr, offsetOf("ibv_mr", "addr")),
        lkey: read.u32(mr, offsetOf("ibv_mr", "lkey")),
        rkey: read.u32(mr, offsetOf("ibv_mr", "rkey")),
      };
      regions.set(region, mr);
      return region;
    },
    deregisterMemory(region) {
      const mr = regions.get(region);
      if (!mr) return;
      regions.delete(region);
      lib.ibv_dereg_mr(mr);
    },
    createQueuePair(maxSendWr) {
      const attr = new Uint8Array(STRUCTS.ibv_qp_init_attr.size);
      const view = new DataView(attr.buffer);
      setPtr(view, offsetOf("ibv_qp_init_attr", "send_cq"), cq);
      setPtr(view, offsetOf("ibv_qp_init_attr", "recv_cq"), cq);
      view.setUint32(offsetOf("ibv_qp_init_attr", "cap.max_send_wr"), maxSendWr, true);
      view.setUint32(offsetOf("ibv_qp_init_attr", "cap.max_recv_wr"), 1, true);
      view.setUint32(offsetOf("ibv_qp_init_attr", "cap.max_send_sge"), 1, true);
      view.setUint32(offsetOf("ibv_qp_init_attr", "cap.max_recv_sge"), 1, true);
      view.setUint32(offsetOf("ibv_qp_init_attr", "qp_type"), C.IBV_QPT_RC, true);
      const handle = lib.ibv_create_qp(pd, ptr(attr)) as Pointer | null;
      if (!handle) throw new RdmaError(`ibv_create_qp failed on "${name}"`);
      const qp: QueuePair = { qpn: read.u32(handle, offsetOf("ibv_qp", "qp_num")) };
      qps.set(qp, handle);
      return qp;
    },
    toInit(qp, access) {
      modify(
        qp,
        (view) => {
          view.setUint32(offsetOf("ibv_qp_attr", "qp_state"), C.IBV_QPS_INIT, true);
          view.setUint16(offsetOf("ibv_qp_attr", "pkey_index"), 0, true);
          view.setUint8(offsetOf("ibv_qp_attr", "port_num"), port);
          view.setUint32(offsetOf("ibv_qp_attr", "qp_access_flags"), access, true);
        },
        C.IBV_QP_STATE | C.IBV_QP_PKEY_INDEX | C.IBV_QP_PORT | C.IBV_QP_ACCESS_FLAGS,
        "INIT",
      );
    },
    toRtr(qp, remote: RemoteQueuePair) {
      const local = portInfo ?? queryPort();
      modify(
        qp,
        (view, bytes) => {
          view.setUint32(offsetOf("ibv_qp_attr", "qp_state"), C.IBV_QPS_RTR, true);
          view.setUint32(offsetOf("ibv_qp_attr", "path_mtu"), Math.min(remote.mtu, local.activeMtu), true);
          view.setUint32(offsetOf("ibv_qp_attr", "dest_qp_num"), remote.qpn, true);
          view.setUint32(offsetOf("ibv_qp_attr", "rq_psn"), remote.psn, true);
          view.setUint8(offsetOf("ibv_qp_attr", "max_dest_rd_atomic"), MAX_RD_ATOMIC);
          view.setUint8(offsetOf("ibv_qp_attr", "min_rnr_timer"), MIN_RNR_TIMER);
          view.setUint16(offsetOf("ibv_qp_attr", "ah_attr.dlid"), remote.lid, true);
          view.setUint8(offsetOf("ibv_qp_attr", "ah_attr.port_num"), port);
          // RoCE has no LIDs: address by GID through the global route header.
          if (local.linkLayer === C.IBV_LINK_LAYER_ETHERNET || remote.lid === 0) {
            view.setUint8(offsetOf("ibv_qp_attr", "ah_attr.is_global"), 1);
            bytes.set(remote.gid, offsetOf("ibv_qp_attr", "ah_attr.grh.dgid"));
            view.setUint8(offsetOf("ibv_qp_attr", "ah_attr.grh.hop_limit"), 1);
            view.setUint8(offsetOf("ibv_qp_attr", "ah_attr.grh.sgid_index"), 0);
          }
        },
        C.IBV_QP_STATE | C.IBV_QP_AV | C.IBV_QP_PATH_MTU | C.IBV_QP_DEST_QPN | C.IBV_QP_RQ_PSN | C.IBV_QP_MAX_DEST_RD_ATOMIC | C.IBV_QP_MIN_RNR_TIMER,
        "RTR",
      );
    },
    toRts(qp, psn) {
      modify(
        qp,
        (view) => {
          view.setUint32(offsetOf("ibv_qp_attr", "qp_state"), C.IBV_QPS_RTS, true);
          view.setUint32(offsetOf("ibv_qp_attr", "sq_psn"), psn, true);
          view.setUint8(offsetOf("ibv_qp_attr", "timeout"), QP_TIMEOUT);
          view.setUint8(offsetOf("ibv_qp_attr", "retry_cnt"), QP_RETRY);
          view.setUint8(offsetOf("ibv_qp_attr", "rnr_retry"), QP_RETRY);
          view.setUint8(offsetOf("ibv_qp_attr", "max_rd_atomic"), MAX_RD_ATOMIC);
        },
        C.IBV_QP_STATE | C.IBV_QP_TIMEOUT | C.IBV_QP_RETRY_CNT | C.IBV_QP_RNR_RETRY | C.IBV_QP_SQ_PSN | C.IBV_QP_MAX_QP_RD_ATOMIC,
        "RTS",
      );
    },
    destroyQueuePair(qp) {
      const handle = qps.get(qp);
      if (!handle) return;
      qps.delete(qp);
      lib.ibv_destroy_qp(handle);
    },
    postRead(qp, wrId, local, offset, length, remote) {
      const sgeSize = STRUCTS.ibv_sge.size;
      const request = new Uint8Array(sgeSize + STRUCTS.ibv_send_wr.size + 8);
      const view = new DataView(request.buffer);
      view.setBigUint64(offsetOf("ibv_sge", "addr"), local.address + BigInt(offset), true);
      view.setUint32(offsetOf("ibv_sge", "length"), length, true);
      view.setUint32(offsetOf("ibv_sge", "lkey"), local.lkey, true);
      const wr = sgeSize;
      view.setBigUint64(wr + offsetOf("ibv_send_wr", "wr_id"), wrId, true);
      setPtr(view, wr + offsetOf("ibv_send_wr", "sg_list"), ptr(request));
      view.setInt32(wr + offsetOf("ibv_send_wr", "num_sge"), 1, true);
      view.setUint32(wr + offsetOf("ibv_send_wr", "opcode"), C.IBV_WR_RDMA_READ, true);
      view.setUint32(wr + offsetOf("ibv_send_wr", "send_flags"), C.IBV_SEND_SIGNALED, true);
      view.setBigUint64(wr + offsetOf("ibv_send_wr", "wr.rdma.remote_addr"), remote.address, true);
      view.setUint32(wr + offsetOf("ibv_send_wr", "wr.rdma.rkey"), remote.rkey, true);
      const rc = postSend(qpOf(qp), ptr(request, wr), ptr(request, wr + STRUCTS.ibv_send_wr.size)) as number;
      if (rc !== 0) throw new RdmaError(`ibv_post_send failed with ${rc} on queue pair ${qp.qpn}`);
    },
    poll(max) {
      const count = Math.min(max, 64);
      const n = pollCq(cq, count, ptr(wc)) as number;
      if (n < 0) throw new RdmaError(`ibv_poll_cq failed with ${n}`);
      const view = new DataView(wc.buffer);
      const out: WorkCompletion[] = [];
      for (let i = 0; i < n; i++) {
        const at = i * STRUCTS.ibv_wc.size;
        out.push({
          wrId: view.getBigUint64(at + offsetOf("ibv_wc", "wr_id"), true),
          status: view.getUint32(at + offsetOf("ibv_wc", "status"), true),
          byteLength: view.getUint32(at + offsetOf("ibv_wc", "byte_len"), true),
        });
      }
      return out;
    },
    close() {
      for (const handle of qps.values()) lib.ibv_destroy_qp(handle);
      qps.clear();
      for (const mr of regions.values()) lib.ibv_dereg_mr(mr);
      regions.clear();
      lib.ibv_destroy_cq(cq);
      lib.ibv_dealloc_pd(pd);
      lib.ibv_close_device(context);
      pollCq.close();
      postSend.close();
    },
  };
}
