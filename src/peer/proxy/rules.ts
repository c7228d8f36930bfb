/** Which requests go through P2P, how their download URL is rewritten, and where mirror requests go. */
import { InvalidArgument } from "../../common/errors.ts";

/** A compiled `proxy.rules[]` entry. */
export interface ProxyRule {
  regex: RegExp;
  useTLS: boolean;
  redirect?: string;
  filteredQueryParams?: string[];
}

/** The rule used for a GET forced into P2P by `X-Dragonfly-Use-P2P: true` when no rule matches. */
export const DEFAULT_RULE: ProxyRule = { regex: /blobs\/sha256.*/, useTLS: false };

/** Compiles the configured rules. */
export function compileRules(
  rules: readonly { regex: string; useTLS: boolean; redirect?: string; filteredQueryParams?: string[] }[],
): ProxyRule[] {
  return rules.map((rule) => ({
    regex: new RegExp(rule.regex),
    useTLS: rule.useTLS,
    redirect: rule.redirect,
    filteredQueryParams: rule.filteredQueryParams,
  }));
}

/** The URL as rules see it: without query and fragment. */
export function ruleSubject(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** The first rule matching a URL, if any. */
export function matchRule(rules: readonly ProxyRule[], url: URL): ProxyRule | undefined {
  const subject = ruleSubject(url);
  return rules.find((rule) => rule.regex.test(subject));
}

/** The URL a P2P download fetches: the scheme made https by `useTLS`, the authority replaced by `redirect`. */
export function downloadUrl(url: URL, rule: ProxyRule): string {
  const out = new URL(url.href);
  if (rule.useTLS && out.protocol === "http:") {
    // A default port of http would be wrong for https.
    if (out.port === "80") out.port = "";
    out.protocol = "https:";
  }
  if (rule.redirect) {
    const target = rule.redirect.includes("://") ? new URL(rule.redirect) : new URL(`${out.protocol}//${rule.redirect}`);
    out.protocol = target.protocol;
    out.host = target.host;
  }
  out.hash = "";
  return out.href;
}

/**
 * The upstream of a registry-mirror request (origin-form, like `/v2/...`): the `X-Dragonfly-Registry` header,
 * else the `ns` query parameter (https:// when it has no scheme), else the configured mirror address.
 */
export function mirrorUpstream(pathAndQuery: string, registryHeader: string | null, defaultAddr: string): URL {
  const path = new URL(pathAndQuery, "http://placeholder");
  let base = registryHeader?.trim() || "";
  if (!base) {
    const ns = path.searchParams.get("ns");
    if (ns) base = /^[a-z][a-z0-9+.-]*:\/\//i.test(ns) ? ns : `https://${ns}`;
  }
  if (!base) base = defaultAddr;
  let upstream: URL;
  try {
    upstream = new URL(base);
  } catch (cause) {
    throw new InvalidArgument(`Invalid registry "${base}": not a URL`, { cause });
  }
  if (upstream.protocol !== "http:" && upstream.protocol !== "https:") {
    throw new InvalidArgument(`Invalid registry "${base}": scheme must be http or https`);
  }
  const prefix = upstream.pathname.replace(/\/+$/, "");
  return new URL(`${upstream.protocol}//${upstream.host}${prefix}${path.pathname}${path.search}`);
}
