/** Task, host, peer and piece IDs exactly as Dragonfly derives them. */
import { createHash, randomUUID } from "node:crypto";
import { InvalidArgument } from "./errors.ts";

/** Query keys dropped before hashing a URL into a task ID, in Dragonfly's order. */
export const DEFAULT_FILTERED_QUERY_PARAMS: readonly string[] = [
  // S3
  "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
  "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-User-Agent",
  // GCS
  "X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders",
  "X-Goog-Signature",
  // OSS
  "OSSAccessKeyId", "Expires", "Signature", "SecurityToken",
  // OBS
  "AccessKeyId", "X-Obs-Date", "X-Obs-Security-Token",
  // COS
  "q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
  "q-signature", "x-cos-security-token",
  // containerd
  "ns",
];

/** Hex sha256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The URL as hashed into a task ID: filtered query keys dropped, order kept, bare-host `/` trimmed. */
export function filterUrl(rawUrl: string, filteredQueryParams: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (cause) {
    throw new InvalidArgument(`Invalid URL "${rawUrl}": cannot be parsed`, { cause });
  }
  if (url.search !== "") {
    const filter = new Set(filteredQueryParams);
    const kept = new URLSearchParams();
    for (const [key, value] of url.searchParams) if (!filter.has(key)) kept.append(key, value);
    url.search = kept.size === 0 ? "" : kept.toString();
  }
  let out = url.toString();
  if (url.search === "" && url.hash === "" && url.pathname === "/" && out.endsWith("/")) out = out.slice(0, -1);
  return out;
}

/** The inputs of a STANDARD task ID. */
export interface TaskIdInput {
  url: string;
  tag?: string;
  application?: string;
  revision?: string;
  pieceLength?: number;
  filteredQueryParams?: readonly string[];
  contentForCalculatingTaskId?: string;
  enableTaskIdBasedBlobDigest?: boolean;
}

const OCI_BLOB = /^(.*):\/\/(.*)\/v2\/(.*)\/blobs\/([^?]+)(?:\?.*)?$/;

/** The task ID of a STANDARD download. */
export function taskId(input: TaskIdInput): string {
  if (input.contentForCalculatingTaskId !== undefined && input.contentForCalculatingTaskId !== "") {
    return sha256Hex(input.contentForCalculatingTaskId);
  }
  if (input.enableTaskIdBasedBlobDigest) {
    const match = OCI_BLOB.exec(input.url);
    const digest = match?.[4];
    if (digest) {
      const hex = digest.slice(digest.indexOf(":") + 1);
      if (/^[0-9a-f]{64}$/.test(hex)) return hex;
    }
  }
  const filters = input.filteredQueryParams ?? DEFAULT_FILTERED_QUERY_PARAMS;
  let material = filterUrl(input.url, filters);
  if (input.tag) material += input.tag;
  if (input.application) material += input.application;
  if (input.revision) material += input.revision;
  if (input.pieceLength !== undefined && input.pieceLength > 0) material += String(input.pieceLength);
  material += "STANDARD";
  return sha256Hex(material);
}

/** The task ID of a persistent cache task made from a file's bytes digest stream. */
export function persistentCacheTaskId(
  contentHash: { update(data: Uint8Array | string): unknown; digest(encoding: "hex"): string },
  tag = "",
  application = "",
  pieceLength?: number,
): string {
  if (tag) contentHash.update(tag);
  if (application) contentHash.update(application);
  if (pieceLength !== undefined && pieceLength > 0) contentHash.update(String(pieceLength));
  contentHash.update("PERSISTENT_CACHE");
  return contentHash.digest("hex");
}

/** `{ip}-{hostname}`, with `-seed` for a seed peer. */
export function hostId(ip: string, hostname: string, seed = false): string {
  return `${ip}-${hostname}${seed ? "-seed" : ""}`;
}

/** `{ip}-{hostname}-{uuid}`, with `-seed` for a seed peer. */
export function peerId(ip: string, hostname: string, seed = false): string {
  return `${ip}-${hostname}-${randomUUID()}${seed ? "-seed" : ""}`;
}

/** `{taskId}-{number}`: a piece's storage key. */
export function pieceId(taskId: string, number: number): string {
  return `${taskId}-${number}`;
}

/** Whether a string is a 64-character hex task ID. */
export function isTaskId(id: string): boolean {
  return /^[0-9a-f]{64}$/.test(id);
}
