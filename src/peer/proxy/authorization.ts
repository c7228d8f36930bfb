/**
 * Authorization of cached tasks. A task's ID says nothing about who may read it, so before a client is served
 * bytes that another client brought in, the upstream is asked, with this client's own credentials, whether
 * it would serve them. Answers are remembered for a short while per client credential and task; tasks the
 * upstream served to a request without credentials are public and need no check.
 */
import { createHash } from "node:crypto";
import { errorMessage } from "../../common/errors.ts";
import { forward, type UpstreamTls } from "./upstream.ts";

/** Headers that carry a client's identity to an upstream. */
const CREDENTIAL_HEADERS = ["authorization", "cookie"];

/** The outcome of a check. */
export type AuthorizationResult = { allowed: true } | { allowed: false; status?: number; reason: string };

/** A fingerprint of the credentials a request carries ("" when it carries none). */
export function credentialKey(headers: Headers): string {
  const parts = CREDENTIAL_HEADERS.map((name) => headers.get(name) ?? "");
  if (parts.every((p) => p === "")) return "";
  return createHash("sha256").update(parts.join("\n")).digest("hex");
}

/** Checks and remembers which clients may read which tasks. */
export class TaskAuthorizer {
  private readonly granted = new Map<string, number>();
  private readonly publicTasks = new Set<string>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 100_000) {}

  /** Records that the upstream served a task to a request with these credentials. */
  grant(taskId: string, headers: Headers): void {
    const key = credentialKey(headers);
    if (key === "") {
      this.publicTasks.add(taskId);
      return;
    }
    if (this.ttlMs <= 0) return;
    this.granted.set(`${taskId}/${key}`, Date.now() + this.ttlMs);
    if (this.granted.size > this.maxEntries) this.prune();
  }

  /** Forgets a task (e.g. when it is evicted). */
  forget(taskId: string): void {
    this.publicTasks.delete(taskId);
  }

  /** Whether a client may read a cached task: asks the upstream unless a recent answer or publicness says so. */
  async check(taskId: string, url: string, headers: Headers, tls?: UpstreamTls, signal?: AbortSignal): Promise<AuthorizationResult> {
    if (this.publicTasks.has(taskId)) return { allowed: true };
    const key = `${taskId}/${credentialKey(headers)}`;
    const until = this.granted.get(key);
    if (until !== undefined && until > Date.now()) return { allowed: true };
    const probe = new Headers(headers);
    probe.delete("range");
    probe.delete("if-none-match");
    probe.delete("if-modified-since");
    let response: Response;
    try {
      response = await forward({ method: "HEAD", url, headers: probe, body: null, tls, signal });
      if (response.status === 405 || response.status === 501) {
        // No HEAD here: ask for one byte instead.
        probe.set("range", "bytes=0-0");
        response = await forward({ method: "GET", url, headers: probe, body: null, tls, signal });
      }
      await response.body?.cancel().catch(() => {});
    } catch (error) {
      return { allowed: false, reason: `cannot reach the upstream: ${errorMessage(error)}` };
    }
    // A redirect (e.g. to blob storage) is the upstream agreeing to serve.
    if (response.status >= 200 && response.status < 400) {
      this.grant(taskId, headers);
      return { allowed: true };
    }
    return { allowed: false, status: response.status, reason: `the upstream answered ${response.status}` };
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, until] of this.granted) if (until <= now) this.granted.delete(key);
    while (this.granted.size > this.maxEntries) this.granted.delete(this.granted.keys().next().value!);
  }
}
