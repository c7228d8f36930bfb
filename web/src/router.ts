/** A small history-API router: the current location as a signal, links that navigate without reloads. */
import { signal } from "./signal.ts";

/** The current path and query. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function read(): Location {
  return { path: location.pathname.replace(/\/+$/, "") || "/", query: new URLSearchParams(location.search) };
}

/** Where the app is. */
export const current = signal<Location>(read());

addEventListener("popstate", () => {
  current.value = read();
});

/** Goes to a path (with an optional query string); `replace` keeps history short for redirects. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  current.value = read();
  scrollTo(0, 0);
}

/** Replaces the query string of the current path (filters, pages) without a new history entry. */
export function setQuery(values: Record<string, string | number | undefined | null>): void {
  const query = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "") query.delete(key);
    else query.set(key, String(value));
  }
  const search = query.toString();
  history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
  current.value = read();
}

/** Matches a path against a pattern like `/clusters/:id`; returns the parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const source = pattern.replace(/:(\w+)/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  const found = new RegExp(`^${source}$`).exec(path);
  if (!found) return null;
  return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1]!)]));
}
