/** Task IDs as dfdaemon derives them, so a task can be looked up by its URL. */
import { createHash } from "node:crypto";
import { SdkError } from "../errors.ts";

/** Query keys left out of a URL before it is hashed into a task ID unless told otherwise (signatures, `ns`). */
export const DEFAULT_FILTERED_QUERY_PARAMS: readonly string[] = [
  "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
  "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-User-Agent",
  "X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders",
  "X-Goog-Signature",
  "OSSAccessKeyId", "Expires", "Signature", "SecurityToken",
  "AccessKeyId", "X-Obs-Date", "X-Obs-Security-Token",
  "q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
  "q-signature", "x-cos-security-token",
  "ns",
];

/** What a download's task ID is made of. */
export interface TaskIdParts {
  url: string;
  tag?: string;
  application?: string;
  /** A fixed piece length given with the download. */
  pieceLength?: number;
  filteredQueryParams?: readonly string[];
  /** When set, the task ID is the sha256 of this text alone. */
  contentForCalculatingTaskId?: string;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The URL with filtered query keys removed (order kept) and a bare host's trailing `/` trimmed. */
function canonicalUrl(rawUrl: string, filtered: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (cause) {
    throw new SdkError("invalid_argument", `Invalid URL "${rawUrl}": cannot be parsed`, { cause });
  }
  if (url.search !== "") {
    const drop = new Set(filtered);
    const kept = new URLSearchParams();
    for (const [key, value] of url.searchParams) if (!drop.has(key)) kept.append(key, value);
    url.search = kept.size === 0 ? "" : kept.toString();
  }
  const text = url.toString();
  return url.search === "" && url.hash === "" && url.pathname === "/" && text.endsWith("/") ? text.slice(0, -1) : text;
}

/** The task ID of a standard download of a URL; the same inputs give the same ID on every peer. */
export function taskIdOf(parts: TaskIdParts): string {
  if (parts.contentForCalculatingTaskId) return sha256(parts.contentForCalculatingTaskId);
  let material = canonicalUrl(parts.url, parts.filteredQueryParams ?? DEFAULT_FILTERED_QUERY_PARAMS);
  if (parts.tag) material += parts.tag;
  if (parts.application) material += parts.application;
  if (parts.pieceLength !== undefined && parts.pieceLength > 0) material += String(parts.pieceLength);
  return sha256(`${material}STANDARD`);
}

/** Whether a string is a task ID: 64 lowercase hex characters. */
export function isTaskId(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}
