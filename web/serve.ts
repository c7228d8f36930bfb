/**
 * Serves the console's built files at `/` with a single-page-app fallback: any GET outside the API that names
 * no file gets index.html, so deep links work. Web APIs only, like the manager app that calls it.
 */
import { CONSOLE_ASSETS, type ConsoleAsset } from "./dist/console-assets.ts";

/** Paths that belong to the manager's API, never to the console. */
const RESERVED = /^\/(?:api|oapi)(?:\/|$)|^\/(?:healthy|metrics)$|^\/(?:manager\.v2|libellula)\./;
/** Hashed build files never change under one name. */
const IMMUTABLE = "public, max-age=31536000, immutable";
const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
};

const decoded = new Map<string, Uint8Array<ArrayBuffer>>();

function bodyOf(path: string, asset: ConsoleAsset): string | Uint8Array<ArrayBuffer> {
  if (!asset.base64) return asset.body;
  let bytes = decoded.get(path);
  if (!bytes) {
    const text = atob(asset.body);
    bytes = new Uint8Array(new ArrayBuffer(text.length));
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    decoded.set(path, bytes);
  }
  return bytes;
}

/** The console's answer to a request, or undefined when the request is not the console's. */
export function serveConsole(request: Request): Response | undefined {
  if (request.method !== "GET" && request.method !== "HEAD") return undefined;
  const path = new URL(request.url).pathname;
  if (RESERVED.test(path)) return undefined;
  let key = path;
  let asset = CONSOLE_ASSETS[key];
  if (!asset) {
    // A deep link into the app (no file extension) or a browser asking for a page gets the app itself.
    const wantsPage = !/\.[a-z0-9]+$/i.test(path) || (request.headers.get("accept") ?? "").includes("text/html");
    if (!wantsPage || path.startsWith("/assets/")) return undefined;
    key = "/index.html";
    asset = CONSOLE_ASSETS[key];
    if (!asset) return undefined;
  }
  const headers = new Headers(SECURITY_HEADERS);
  headers.set("content-type", asset.type);
  headers.set("cache-control", key.startsWith("/assets/") ? IMMUTABLE : "no-cache");
  return new Response(request.method === "HEAD" ? null : bodyOf(key, asset), { status: 200, headers });
}
