/** The signed-in session: the token in localStorage, its owner's ID from the JWT, expiry and refresh. */
import { signal } from "./signal.ts";

const STORAGE_KEY = "libellula.session";
/** Refresh this long before the token expires. */
const REFRESH_AHEAD_MS = 5 * 60 * 1000;

/** A session as the manager issues it. */
export interface Session {
  token: string;
  /** RFC 3339 expiry. */
  expire: string;
  /** The user's ID (the token's `id` claim). */
  userId: number;
}

/** Why the last session ended, shown on the sign-in page. */
export const endReason = signal<string | null>(null);

function decodeUserId(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { id?: unknown };
    return typeof json.id === "number" ? json.id : null;
  } catch {
    return null;
  }
}

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Session;
    if (typeof parsed.token !== "string" || typeof parsed.userId !== "number") return null;
    if (Date.parse(parsed.expire) <= Date.now()) return null;
    return parsed;
  } catch {
    return null;
  }
}

/** The current session, or null when signed out. */
export const session = signal<Session | null>(load());

/** Stores a fresh token from sign-in or refresh. */
export function startSession(token: string, expire: string): Session {
  const userId = decodeUserId(token);
  if (userId === null) throw new Error("The manager returned a token without a user ID");
  const next = { token, expire, userId };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  endReason.value = null;
  session.value = next;
  return next;
}

/** Forgets the session; `reason` is shown on the sign-in page. */
export function endSession(reason: string | null = null): void {
  localStorage.removeItem(STORAGE_KEY);
  endReason.value = reason;
  session.value = null;
}

/** Milliseconds until the current token should be refreshed (negative when due). */
export function refreshDueIn(current: Session): number {
  return Date.parse(current.expire) - Date.now() - REFRESH_AHEAD_MS;
}

// Another tab signing in or out applies here too.
window.addEventListener("storage", (event: StorageEvent) => {
  if (event.key !== STORAGE_KEY) return;
  session.value = load();
});
