/**
 * Dragonfly's cluster searcher: every cluster with schedulers is scored against the caller and returned
 * best first. score = 0.30·cidr + 0.30·hostname + 0.25·idc + 0.14·location + 0.01·is_default.
 */

/** Weights of each match. */
export const WEIGHTS = { cidr: 0.3, hostname: 0.3, idc: 0.25, location: 0.14, isDefault: 0.01 } as const;
/** Location elements compared at most. */
export const MAX_LOCATION_ELEMENTS = 5;

/** What a cluster declares it serves. */
export interface Scopes {
  idc?: string;
  location?: string;
  cidrs?: string[];
  hostnames?: string[];
}

/** What the caller says about itself. */
export interface Client {
  hostname: string;
  ip: string;
  idc?: string;
  location?: string;
}

/** A cluster to score. */
export interface Candidate {
  id: number;
  scopes: Scopes;
  isDefault: boolean;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4) into bytes. */
export function parseIp(text: string): Uint8Array | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped) return parseIp(mapped[1]!);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const parts = text.split(".").map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return new Uint8Array(parts);
  }
  if (!text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  let groups = [...head, ...tail];
  const last = groups[groups.length - 1];
  let v4: Uint8Array | undefined;
  if (last?.includes(".")) {
    v4 = parseIp(last);
    if (!v4 || v4.length !== 4) return undefined;
    groups = groups.slice(0, -1);
  }
  const want = v4 ? 6 : 8;
  const missing = want - groups.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = halves.length === 2 ? [...head, ...Array(missing).fill("0"), ...tail.slice(0, v4 ? tail.length - 1 : tail.length)] : groups;
  const out = new Uint8Array(16);
  for (let i = 0; i < want; i++) {
    const g = all[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 255;
  }
  if (v4) out.set(v4, 12);
  return out;
}

/** Whether an address is inside a CIDR prefix. */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const addr = parseIp(ip);
  const net = parseIp(base ?? "");
  if (!addr || !net || addr.length !== net.length) return false;
  const bits = bitsText === undefined ? addr.length * 8 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > addr.length * 8) return false;
  for (let i = 0; i < addr.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    if (take === 0) break;
    const mask = (0xff << (8 - take)) & 0xff;
    if ((addr[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
}

function cidrScore(scopes: Scopes, client: Client): number {
  return (scopes.cidrs ?? []).some((cidr) => inCidr(client.ip, cidr)) ? 1 : 0;
}

function hostnameScore(scopes: Scopes, client: Client): number {
  for (const pattern of scopes.hostnames ?? []) {
    try {
      if (new RegExp(pattern).test(client.hostname)) return 1;
    } catch {
      // a stored pattern that no longer compiles matches nothing
    }
  }
  return 0;
}

function idcScore(scopes: Scopes, client: Client): number {
  if (!client.idc || !scopes.idc) return 0;
  const want = client.idc.toLowerCase();
  if (scopes.idc.toLowerCase() === want) return 1;
  return scopes.idc.split("|").some((element) => element.toLowerCase() === want) ? 1 : 0;
}

function locationScore(scopes: Scopes, client: Client): number {
  if (!client.location || !scopes.location) return 0;
  if (client.location === scopes.location) return 1;
  const a = client.location.split("|");
  const b = scopes.location.split("|");
  let equal = 0;
  while (equal < Math.min(a.length, b.length, MAX_LOCATION_ELEMENTS) && a[equal] === b[equal]) equal++;
  return equal / MAX_LOCATION_ELEMENTS;
}

/** The score of one cluster for a caller. */
export function score(candidate: Candidate, client: Client): number {
  const s = candidate.scopes;
  return (
    WEIGHTS.cidr * cidrScore(s, client) +
    WEIGHTS.hostname * hostnameScore(s, client) +
    WEIGHTS.idc * idcScore(s, client) +
    WEIGHTS.location * locationScore(s, client) +
    WEIGHTS.isDefault * (candidate.isDefault ? 1 : 0)
  );
}

/** Candidates best first; ties keep their input (id) order. */
export function rank<T extends Candidate>(candidates: T[], client: Client): T[] {
  return candidates
    .map((candidate, index) => ({ candidate, index, score: score(candidate, client) }))
    .sort((x, y) => y.score - x.score || x.index - y.index)
    .map((entry) => entry.candidate);
}
