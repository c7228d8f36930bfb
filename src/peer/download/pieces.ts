/** Conversions between stored pieces and their protobuf form. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { PieceSchema, type Piece } from "../../gen/common/v2/common_pb.ts";
import type { PieceRecord } from "../storage/metadata.ts";

/** A stored piece as a common.v2.Piece (Go's validation wants cost and created_at present). */
export function toPieceMessage(piece: PieceRecord, trafficType = piece.trafficType, content?: Uint8Array): Piece {
  return create(PieceSchema, {
    number: piece.number,
    parentId: piece.parentId === "" ? undefined : piece.parentId,
    offset: BigInt(piece.offset),
    length: BigInt(piece.length),
    digest: piece.digest,
    trafficType,
    content,
    cost: durationFromMs(piece.costMs),
    createdAt: timestampFromMs(piece.createdAt),
  });
}
