/**
 * Verbs implemented in process: a fabric that connects queue pairs of contexts in the same process and carries
 * out RDMA READs by copying between registered buffers, with the checks a real adapter makes (queue pair
 * states, remote access rights, rkeys, bounds). Lets the transport above the verbs run where no device exists;
 * faults can be injected to exercise error completions.
 */
import { CONSTANTS as C } from "./layout.ts";
import { RdmaError } from "./errors.ts";
import type { DeviceInfo, MemoryRegion, QueuePair, RemoteQueuePair, Verbs, VerbsContext, WorkCompletion } from "./verbs.ts";

interface SoftQueuePair extends QueuePair {
  owner: SoftContext;
  state: number;
  access: number;
  remoteQpn: number;
}

interface SoftRegion extends MemoryRegion {
  owner: SoftContext;
  access: number;
}

type SoftContext = VerbsContext & { completions: WorkCompletion[] };

/** Devices and queue pairs shared by every context opened from the same fabric. */
export class SoftFabric {
  readonly queuePairs = new Map<number, SoftQueuePair>();
  readonly regions = new Map<number, SoftRegion>();
  nextQpn = 0x100;
  nextKey = 0x1000;
  nextAddress = 0x7f0000000000n;
  /** When set, the next RDMA READ completes with this ibv_wc_status instead of moving bytes. */
  failNextRead: number | undefined;
  /** READs carried out. */
  reads = 0;
}

/** Verbs over `fabric`, listing `devices` (none by default, as on a machine without RDMA). */
export function createSoftVerbs(fabric: SoftFabric, devices: string[] = []): Verbs {
  return {
    name: "soft-verbs",
    devices: (): DeviceInfo[] => devices.map((name, i) => ({ name, guid: BigInt(i + 1) })),
    open(device, port) {
      if (!devices.includes(device)) throw new RdmaError(`RDMA device "${device}" not found`);
      return openSoft(fabric, device, port);
    },
  };
}

function openSoft(fabric: SoftFabric, device: string, port: number): SoftContext {
  const lid = fabric.nextQpn++;
  const gid = new Uint8Array(16);
  new DataView(gid.buffer).setUint32(12, lid);
  const owned = new Set<SoftQueuePair>();
  const ownedRegions = new Set<SoftRegion>();
  const qpOf = (qp: QueuePair): SoftQueuePair => {
    const soft = fabric.queuePairs.get(qp.qpn);
    if (!soft || soft.owner !== context) throw new RdmaError(`Queue pair ${qp.qpn} is not open`);
    return soft;
  };
  const move = (qp: QueuePair, from: number, to: number) => {
    const soft = qpOf(qp);
    if (soft.state !== from) throw new RdmaError(`ibv_modify_qp failed: queue pair ${qp.qpn} is in state ${soft.state}, not ${from}`);
    soft.state = to;
    return soft;
  };
  const context: SoftContext = {
    device,
    port,
    completions: [],
    queryPort: () => ({ state: C.IBV_PORT_ACTIVE, activeMtu: C.IBV_MTU_1024, lid, linkLayer: C.IBV_LINK_LAYER_INFINIBAND, maxMessageSize: 1 << 30, gid }),
    registerMemory(buffer, access) {
      const region: SoftRegion = { buffer, address: fabric.nextAddress, lkey: fabric.nextKey++, rkey: fabric.nextKey++, owner: context, access };
      fabric.nextAddress += BigInt(buffer.byteLength + 4096);
      fabric.regions.set(region.rkey, region);
      ownedRegions.add(region);
      return region;
    },
    deregisterMemory(region) {
      fabric.regions.delete(region.rkey);
      ownedRegions.delete(region as SoftRegion);
    },
    createQueuePair() {
      const qp: SoftQueuePair = { qpn: fabric.nextQpn++, owner: context, state: C.IBV_QPS_RESET, access: 0, remoteQpn: 0 };
      fabric.queuePairs.set(qp.qpn, qp);
      owned.add(qp);
      return { qpn: qp.qpn };
    },
    toInit(qp, access) {
      move(qp, C.IBV_QPS_RESET, C.IBV_QPS_INIT).access = access;
    },
    toRtr(qp, remote: RemoteQueuePair) {
      move(qp, C.IBV_QPS_INIT, C.IBV_QPS_RTR).remoteQpn = remote.qpn;
    },
    toRts(qp) {
      move(qp, C.IBV_QPS_RTR, C.IBV_QPS_RTS);
    },
    destroyQueuePair(qp) {
      const soft = fabric.queuePairs.get(qp.qpn);
      if (soft?.owner !== context) return;
      fabric.queuePairs.delete(qp.qpn);
      owned.delete(soft);
    },
    postRead(qp, wrId, local, offset, length, remote) {
      const soft = qpOf(qp);
      if (soft.state !== C.IBV_QPS_RTS) throw new RdmaError(`ibv_post_send failed: queue pair ${qp.qpn} is not ready to send`);
      const complete = (status: number, byteLength = 0) => {
        if (status !== C.IBV_WC_SUCCESS) soft.state = C.IBV_QPS_ERR;
        context.completions.push({ wrId, status, byteLength });
      };
      if (fabric.failNextRead !== undefined) {
        const status = fabric.failNextRead;
        fabric.failNextRead = undefined;
        return complete(status);
      }
      const peer = fabric.queuePairs.get(soft.remoteQpn);
      if (!peer || peer.remoteQpn !== soft.qpn || peer.state < C.IBV_QPS_RTR) return complete(C.IBV_WC_RETRY_EXC_ERR);
      const region = fabric.regions.get(remote.rkey);
      const start = region ? Number(remote.address - region.address) : -1;
      if (
        !region ||
        region.owner !== peer.owner ||
        (region.access & C.IBV_ACCESS_REMOTE_READ) === 0 ||
        (peer.access & C.IBV_ACCESS_REMOTE_READ) === 0 ||
        start < 0 ||
        start + length > region.buffer.byteLength
      ) {
        return complete(C.IBV_WC_REM_ACCESS_ERR);
      }
      if (offset < 0 || offset + length > local.buffer.byteLength || !ownedRegions.has(local as SoftRegion)) {
        throw new RdmaError(`ibv_post_send failed: local buffer of ${local.buffer.byteLength} bytes cannot take ${length} at ${offset}`);
      }
      local.buffer.set(region.buffer.subarray(start, start + length), offset);
      fabric.reads++;
      complete(C.IBV_WC_SUCCESS, length);
    },
    poll(max) {
      return context.completions.splice(0, max);
    },
    close() {
      for (const qp of owned) fabric.queuePairs.delete(qp.qpn);
      for (const region of ownedRegions) fabric.regions.delete(region.rkey);
      owned.clear();
      ownedRegions.clear();
    },
  };
  return context;
}
