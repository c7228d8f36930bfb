/** The scheduler's model as common.v2 messages. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PeerSchema, TaskSchema, type Host as HostMessage, type Peer as PeerMessage, type Task as TaskMessage } from "../../gen/common/v2/common_pb.ts";
import type { Host } from "../resource/host.ts";
import type { Peer } from "../resource/peer.ts";
import type { Task } from "../resource/task.ts";

/** A task as `common.v2.Task`. */
export function taskToProto(task: Task): TaskMessage {
  return create(TaskSchema, {
    id: task.id,
    type: task.type,
    url: task.url,
    digest: task.digest,
    tag: task.tag,
    application: task.application,
    filteredQueryParams: task.filteredQueryParams,
    requestHeader: task.requestHeader,
    contentLength: BigInt(Math.max(0, task.contentLength)),
    pieceCount: task.totalPieceCount,
    sizeScope: task.sizeScope(),
    state: task.state,
    peerCount: task.peerCount,
    hasAvailablePeer: task.hasAvailablePeer(),
    createdAt: timestampFromMs(task.createdAt),
    updatedAt: timestampFromMs(task.updatedAt),
  });
}

/** A host as announced. */
export function hostToProto(host: Host): HostMessage {
  return host.info;
}

/** A peer as `common.v2.Peer` with its full task and host, as children need to dial it. */
export function peerToProto(peer: Peer): PeerMessage {
  return create(PeerSchema, {
    id: peer.id,
    range: peer.range,
    priority: peer.priority,
    cost: durationFromMs(Math.round(peer.costNs / 1e6)),
    state: peer.state,
    task: taskToProto(peer.task),
    host: hostToProto(peer.host),
    needBackToSource: peer.needBackToSource,
    createdAt: timestampFromMs(peer.createdAt),
    updatedAt: timestampFromMs(peer.updatedAt),
    concurrentPieceCount: peer.concurrentPieceCount,
  });
}
