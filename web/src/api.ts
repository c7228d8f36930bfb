/**
 * The manager's REST API as the console uses it: JSON in and out, the session's bearer token, errors with the
 * manager's message, and pages described by the Link header.
 */
import { endSession, session } from "./session.ts";

/** An answer other than 2xx, with the manager's message. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** Query values; undefined and empty strings are left out. */
export type Query = Record<string, string | number | boolean | undefined | null>;

/** A page of a list. */
export interface Page<T> {
  items: T[];
  page: number;
  perPage: number;
  /** The last page number from the Link header (1 when there is one page). */
  lastPage: number;
}

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

async function send(method: string, path: string, options: { query?: Query; body?: unknown; anonymous?: boolean } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  const current = session.value;
  if (current && !options.anonymous) headers.authorization = `Bearer ${current.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, "Cannot reach the manager: check that it is running and the network is up");
  }
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === "string" && body.message) message = body.message;
  } catch {
    // Not JSON: keep the status line.
  }
  // A rejected session token ends the session; the sign-in page says why.
  if (response.status === 401 && current && !options.anonymous && session.value === current) {
    endSession(/expired/i.test(message) ? "Your session has expired. Sign in again." : `You were signed out: ${message}`);
  }
  throw new ApiError(response.status, message);
}

/** Calls the API and returns the JSON body (undefined for an empty body). */
export async function call<T = unknown>(method: string, path: string, options: { query?: Query; body?: unknown; anonymous?: boolean } = {}): Promise<T> {
  const response = await send(method, path, options);
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** GET shorthand. */
export function get<T>(path: string, query?: Query): Promise<T> {
  return call<T>("GET", path, { query });
}

/** Reads the last page number from a GitHub-style Link header. */
export function lastPageOf(link: string | null, fallback: number): number {
  if (!link) return fallback;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?last"?/.exec(part);
    if (!match) continue;
    const page = Number(new URL(match[1]!, location.origin).searchParams.get("page"));
    if (Number.isInteger(page) && page >= 1) return page;
  }
  return fallback;
}

/** One page of a list endpoint. */
export async function list<T>(path: string, query: Query & { page?: number; per_page?: number } = {}): Promise<Page<T>> {
  const page = query.page ?? 1;
  const perPage = query.per_page ?? 10;
  const response = await send("GET", path, { query: { ...query, page, per_page: perPage } });
  const items = (await response.json()) as T[];
  return { items, page, perPage, lastPage: lastPageOf(response.headers.get("link"), page) };
}

/** Every row of a list endpoint (for selects and dashboards), up to `limit`. */
export async function all<T>(path: string, query: Query = {}, limit = 1000): Promise<T[]> {
  const first = await list<T>(path, { ...query, page: 1, per_page: limit });
  return first.items;
}

/** How many rows a filtered list has, read from the Link header with one-row pages. */
export async function count(path: string, query: Query = {}): Promise<number> {
  const page = await list<unknown>(path, { ...query, page: 1, per_page: 1 });
  return page.items.length === 0 ? 0 : page.lastPage;
}
