/** Persistent cache tasks and peers as common.v2 messages. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  PersistentCachePeerSchema,
  PersistentCacheTaskSchema,
  type PersistentCachePeer as PersistentCachePeerMessage,
  type PersistentCacheTask as PersistentCacheTaskMessage,
} from "../../gen/common/v2/common_pb.ts";
import type { PersistentCachePeer } from "./peer.ts";
import type { PersistentCacheTask } from "./task.ts";

/**
 * A task as `common.v2.PersistentCacheTask`. `current_persistent_replica_count` counts succeeded persistent
 * copies; `current_replica_count` counts every succeeded copy, persistent or exported.
 */
export function persistentCacheTaskToProto(task: PersistentCacheTask): PersistentCacheTaskMessage {
  return create(PersistentCacheTaskSchema, {
    id: task.id,
    persistentReplicaCount: BigInt(task.persistentReplicaCount),
    currentPersistentReplicaCount: BigInt(task.persistentReplicas().length),
    currentReplicaCount: BigInt(task.succeededPeers().length),
    tag: task.tag,
    application: task.application,
    pieceLength: BigInt(task.pieceLength),
    contentLength: BigInt(task.contentLength),
    pieceCount: task.pieceCount,
    state: task.state,
    ttl: durationFromMs(task.ttlMs),
    createdAt: timestampFromMs(task.createdAt),
    updatedAt: timestampFromMs(task.updatedAt),
  });
}

/** A peer as `common.v2.PersistentCachePeer`, with its task and full host (children dial it). */
export function persistentCachePeerToProto(peer: PersistentCachePeer): PersistentCachePeerMessage {
  return create(PersistentCachePeerSchema, {
    id: peer.id,
    persistent: peer.persistent,
    cost: durationFromMs(Math.round(peer.costNs / 1e6)),
    state: peer.state,
    task: persistentCacheTaskToProto(peer.task),
    host: peer.host.info,
    createdAt: timestampFromMs(peer.createdAt),
    updatedAt: timestampFromMs(peer.updatedAt),
  });
}
