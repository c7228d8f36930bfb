/**
 * A switched network of hosts in network namespaces: one "switch" namespace with a bridge, and one
 * namespace per host joined to it by a veth pair. Both ends of every pair are shaped with tbf, so a
 * host's upload (its eth0 egress) and download (the switch port's egress) are each capped.
 */
import { mustRun, run, signalGroup, sleep } from "./proc.ts";

/** One host to create. */
export interface HostSpec {
  /** Short name, also the namespace suffix: `origin`, `seed`, `p1`. */
  name: string;
  /** IPv4 address on the bench subnet. */
  ip: string;
  /** Upload cap in bits per second. */
  upBits: number;
  /** Download cap in bits per second. */
  downBits: number;
}

/** A created host. */
export interface Host extends HostSpec {
  /** Namespace name. */
  ns: string;
  /** Interface name inside the host namespace. */
  dev: string;
  /** The veth end in the switch namespace. */
  switchDev: string;
}

/** The created network. */
export interface Network {
  readonly prefix: string;
  readonly switchNs: string;
  readonly hosts: Host[];
  /** The host called `name`; throws if there is none. */
  host(name: string): Host;
  /** Removes every namespace (and so every veth and qdisc), stopping processes left inside. */
  destroy(): Promise<void>;
}

/** Queue of each tbf in time at the shaped rate; long enough for TCP, short enough to keep RTT sane. */
const TBF_LATENCY = "50ms";
/** Bucket depth in time at the shaped rate; never below one 64 KiB GSO packet plus headroom. */
const TBF_BURST_SECONDS = 0.004;
const TBF_MIN_BURST_BYTES = 128 * 1024;
const HOST_DEV = "eth0";
const PREFIX_LENGTH = 24;

/** The command that runs `cmd` inside namespace `ns`. */
export function inNs(ns: string, cmd: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...cmd];
}

/** The tbf arguments for a cap of `bits` per second. */
export function tbfArgs(bits: number): string[] {
  const burst = Math.max(TBF_MIN_BURST_BYTES, Math.ceil((bits / 8) * TBF_BURST_SECONDS));
  return ["tbf", "rate", `${bits}bit`, "burst", `${burst}`, "latency", TBF_LATENCY];
}

/** Names of existing namespaces that start with `${prefix}-`. */
export async function listNamespaces(prefix: string): Promise<string[]> {
  const out = await mustRun(["ip", "netns", "list"]);
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => name.startsWith(`${prefix}-`));
}

/** Stops every process inside `ns` (TERM, then KILL) and deletes it. */
export async function deleteNamespace(ns: string): Promise<void> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const pids = await nsPids(ns);
    if (pids.length === 0) break;
    for (const pid of pids) signalGroup(pid, signal);
    for (let i = 0; i < 30 && (await nsPids(ns)).length > 0; i++) await sleep(100);
  }
  const result = await run(["ip", "netns", "del", ns]);
  if (result.code !== 0 && !/No such file/.test(result.stderr)) throw new Error(`Cannot delete namespace "${ns}": ${result.stderr.trim()}`);
}

/** Removes every namespace named `${prefix}-*` (leftovers of a run that did not clean up). */
export async function removeNamespaces(prefix: string): Promise<string[]> {
  const names = await listNamespaces(prefix);
  // Hosts first, the switch last: deleting a host namespace also removes its veth pair.
  names.sort((a, b) => Number(a === `${prefix}-sw`) - Number(b === `${prefix}-sw`));
  for (const ns of names) await deleteNamespace(ns);
  return names;
}

/** Creates the switch and `hosts`, each with its shaped link; on error removes what it made. */
export async function createNetwork(prefix: string, hosts: HostSpec[]): Promise<Network> {
  const switchNs = `${prefix}-sw`;
  const created: Host[] = [];
  const destroy = async () => {
    await removeNamespaces(prefix);
  };
  try {
    await mustRun(["ip", "netns", "add", switchNs]);
    await mustRun(["ip", "-n", switchNs, "link", "set", "lo", "up"]);
    await mustRun(["ip", "-n", switchNs, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
    await mustRun(["ip", "-n", switchNs, "link", "set", "br0", "up"]);
    for (const [index, spec] of hosts.entries()) {
      const host: Host = { ...spec, ns: `${prefix}-${spec.name}`, dev: HOST_DEV, switchDev: `port${index}` };
      if (host.switchDev.length > 15 || host.ns.length > 64) throw new Error(`Host name "${spec.name}" is too long`);
      await mustRun(["ip", "netns", "add", host.ns]);
      await mustRun(["ip", "-n", host.ns, "link", "set", "lo", "up"]);
      await mustRun(["ip", "-n", switchNs, "link", "add", host.switchDev, "type", "veth", "peer", "name", host.dev, "netns", host.ns]);
      await mustRun(["ip", "-n", switchNs, "link", "set", host.switchDev, "master", "br0"]);
      await mustRun(["ip", "-n", switchNs, "link", "set", host.switchDev, "up"]);
      await mustRun(["ip", "-n", host.ns, "addr", "add", `${host.ip}/${PREFIX_LENGTH}`, "dev", host.dev]);
      await mustRun(["ip", "-n", host.ns, "link", "set", host.dev, "up"]);
      await mustRun(["tc", "-n", host.ns, "qdisc", "replace", "dev", host.dev, "root", ...tbfArgs(host.upBits)]);
      await mustRun(["tc", "-n", switchNs, "qdisc", "replace", "dev", host.switchDev, "root", ...tbfArgs(host.downBits)]);
      created.push(host);
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    prefix,
    switchNs,
    hosts: created,
    host(name) {
      const host = created.find((h) => h.name === name);
      if (!host) throw new Error(`No host "${name}" in the bench network`);
      return host;
    },
    destroy,
  };
}

/** Bytes sent on `dev` inside `ns`, from the kernel's counters (what went on the wire, headers included). */
export async function txBytes(ns: string, dev: string): Promise<number> {
  const text = await mustRun(["ip", "netns", "exec", ns, "cat", `/sys/class/net/${dev}/statistics/tx_bytes`]);
  return Number(text.trim());
}

async function nsPids(ns: string): Promise<number[]> {
  const result = await run(["ip", "netns", "pids", ns]);
  if (result.code !== 0) return [];
  return result.stdout.split("\n").map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
}
