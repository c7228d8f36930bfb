/**
 * The libibverbs structures and constants the bindings touch, for Linux on 64-bit targets. Every offset, size and
 * value here is compared with the real headers by a C program compiled with gcc in layout.test.ts; a field is
 * named with the member path `offsetof` accepts (`ah_attr.dlid`, `wr.rdma.rkey`, `ops.poll_cq`).
 */

/** One structure: its size and the offsets of the members the bindings read or write. */
export interface StructLayout {
  size: number;
  fields: Record<string, number>;
}

/** Structures by their C name (without `struct`). */
export const STRUCTS = {
  ibv_device_attr: {
    size: 232,
    fields: { fw_ver: 0, node_guid: 64, max_mr_size: 80, max_qp: 108, max_qp_wr: 112, max_sge: 120, max_cqe: 132, max_mr: 136, max_qp_rd_atom: 144, max_qp_init_rd_atom: 156, phys_port_cnt: 227 },
  },
  ibv_port_attr: {
    size: 52,
    fields: { state: 0, max_mtu: 4, active_mtu: 8, gid_tbl_len: 12, max_msg_sz: 20, lid: 34, link_layer: 46 },
  },
  ibv_qp_init_attr: {
    size: 64,
    fields: {
      qp_context: 0,
      send_cq: 8,
      recv_cq: 16,
      srq: 24,
      "cap.max_send_wr": 32,
      "cap.max_recv_wr": 36,
      "cap.max_send_sge": 40,
      "cap.max_recv_sge": 44,
      "cap.max_inline_data": 48,
      qp_type: 52,
      sq_sig_all: 56,
    },
  },
  ibv_qp_attr: {
    size: 144,
    fields: {
      qp_state: 0,
      path_mtu: 8,
      rq_psn: 20,
      sq_psn: 24,
      dest_qp_num: 28,
      qp_access_flags: 32,
      "ah_attr.grh.dgid": 56,
      "ah_attr.grh.flow_label": 72,
      "ah_attr.grh.sgid_index": 76,
      "ah_attr.grh.hop_limit": 77,
      "ah_attr.grh.traffic_class": 78,
      "ah_attr.dlid": 80,
      "ah_attr.sl": 82,
      "ah_attr.src_path_bits": 83,
      "ah_attr.is_global": 85,
      "ah_attr.port_num": 86,
      pkey_index: 120,
      max_rd_atomic: 126,
      max_dest_rd_atomic: 127,
      min_rnr_timer: 128,
      port_num: 129,
      timeout: 130,
      retry_cnt: 131,
      rnr_retry: 132,
    },
  },
  ibv_sge: { size: 16, fields: { addr: 0, length: 8, lkey: 12 } },
  ibv_send_wr: {
    size: 128,
    fields: { wr_id: 0, next: 8, sg_list: 16, num_sge: 24, opcode: 28, send_flags: 32, "wr.rdma.remote_addr": 40, "wr.rdma.rkey": 48 },
  },
  ibv_wc: { size: 48, fields: { wr_id: 0, status: 8, opcode: 12, vendor_err: 16, byte_len: 20, qp_num: 28 } },
  ibv_mr: { size: 48, fields: { context: 0, pd: 8, addr: 16, length: 24, lkey: 36, rkey: 40 } },
  ibv_qp: { size: -1, fields: { context: 0, qp_num: 52, state: 56 } },
  ibv_cq: { size: -1, fields: { context: 0 } },
  ibv_context: { size: -1, fields: { device: 0, "ops.poll_cq": 96, "ops.post_send": 208, "ops.post_recv": 216 } },
} as const satisfies Record<string, StructLayout>;

/** Enumerators and flags the bindings pass, by their C name. */
export const CONSTANTS = {
  IBV_QPS_RESET: 0,
  IBV_QPS_INIT: 1,
  IBV_QPS_RTR: 2,
  IBV_QPS_RTS: 3,
  IBV_QPS_ERR: 6,
  IBV_QPT_RC: 2,
  IBV_WR_RDMA_READ: 4,
  IBV_SEND_SIGNALED: 2,
  IBV_ACCESS_LOCAL_WRITE: 1,
  IBV_ACCESS_REMOTE_WRITE: 2,
  IBV_ACCESS_REMOTE_READ: 4,
  IBV_QP_STATE: 1 << 0,
  IBV_QP_ACCESS_FLAGS: 1 << 3,
  IBV_QP_PKEY_INDEX: 1 << 4,
  IBV_QP_PORT: 1 << 5,
  IBV_QP_AV: 1 << 7,
  IBV_QP_PATH_MTU: 1 << 8,
  IBV_QP_TIMEOUT: 1 << 9,
  IBV_QP_RETRY_CNT: 1 << 10,
  IBV_QP_RNR_RETRY: 1 << 11,
  IBV_QP_RQ_PSN: 1 << 12,
  IBV_QP_MAX_QP_RD_ATOMIC: 1 << 13,
  IBV_QP_MIN_RNR_TIMER: 1 << 15,
  IBV_QP_SQ_PSN: 1 << 16,
  IBV_QP_MAX_DEST_RD_ATOMIC: 1 << 17,
  IBV_QP_DEST_QPN: 1 << 20,
  IBV_WC_SUCCESS: 0,
  IBV_WC_REM_ACCESS_ERR: 10,
  IBV_WC_RETRY_EXC_ERR: 12,
  IBV_PORT_ACTIVE: 4,
  IBV_LINK_LAYER_INFINIBAND: 1,
  IBV_LINK_LAYER_ETHERNET: 2,
  IBV_MTU_1024: 3,
} as const;

/** Bytes of `union ibv_gid`. */
export const GID_SIZE = 16;

/** The offset of `field` in `struct`, typed so a misspelt field does not compile. */
export function offsetOf<S extends keyof typeof STRUCTS>(struct: S, field: keyof (typeof STRUCTS)[S]["fields"]): number {
  return (STRUCTS[struct].fields as Record<string, number>)[field as string] as number;
}
