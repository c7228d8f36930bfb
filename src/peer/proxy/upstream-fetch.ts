/**
 * The back-to-source fetch for hosts that the proxy configures TLS for (`proxy.registryMirror.insecureSkipVerify`
 * and `certs`, `proxy.hijackHTTPS.hosts[]`), so that P2P downloads of their blobs trust the same certificates
 * as the proxy's own upstream requests.
 */
import type { DfdaemonConfig } from "../config.ts";
import { createRedirectFetch, type FetchLike } from "../source/redirects.ts";
import { readCaFiles, type UpstreamTls } from "./upstream.ts";

/** A fetch applying the proxy's per-host TLS settings, or undefined when none are configured. */
export function createUpstreamFetch(config: DfdaemonConfig["proxy"]): FetchLike | undefined {
  const rules: { matches: (url: URL) => boolean; tls: UpstreamTls }[] = [];
  const mirror = config.registryMirror;
  if (mirror.insecureSkipVerify || mirror.certs?.length) {
    const host = new URL(mirror.addr).host;
    rules.push({ matches: (url) => url.host === host, tls: { insecureSkipVerify: mirror.insecureSkipVerify, ca: readCaFiles(mirror.certs) } });
  }
  for (const entry of config.hijackHTTPS.hosts) {
    if (!entry.insecureSkipVerify && !entry.certs?.length) continue;
    const regex = new RegExp(entry.regex);
    const port = (url: URL) => url.port || (url.protocol === "https:" ? "443" : "80");
    rules.push({
      matches: (url) => regex.test(`${url.hostname}:${port(url)}`),
      tls: { insecureSkipVerify: entry.insecureSkipVerify, ca: readCaFiles(entry.certs) },
    });
  }
  if (rules.length === 0) return undefined;
  return createRedirectFetch((url, init) => {
    const target = new URL(url);
    const tls = target.protocol === "https:" ? rules.find((rule) => rule.matches(target))?.tls : undefined;
    if (!tls) return fetch(url, init);
    return fetch(url, { ...init, tls: { rejectUnauthorized: !tls.insecureSkipVerify, ...(tls.ca ? { ca: tls.ca } : {}) } } as RequestInit);
  });
}
