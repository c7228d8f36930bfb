/** A fetch that follows redirects itself, so credentials never travel to another origin (e.g. an LFS CDN). */

/** The fetch signature the backends use. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

const MAX_REDIRECTS = 10;
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

/** Creates a fetch that follows up to 10 redirects and drops credential headers when the origin changes. */
export function createRedirectFetch(base: FetchLike = (url, init) => fetch(url, init)): FetchLike {
  return async (url, init) => {
    const origin = new URL(url).origin;
    let current = url;
    let method = (init.method ?? "GET").toUpperCase();
    let headers = new Headers(init.headers);
    for (let hop = 0; ; hop++) {
      const response = await base(current, { ...init, method, headers, redirect: "manual" });
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || response.status === 304 || !location) return response;
      await response.body?.cancel().catch(() => {});
      if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, current);
      if (next.origin !== origin) {
        headers = new Headers(headers);
        for (const name of CREDENTIAL_HEADERS) headers.delete(name);
      }
      if (response.status === 303 && method !== "HEAD") method = "GET";
      current = next.toString();
    }
  };
}
