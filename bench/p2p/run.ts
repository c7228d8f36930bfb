/**
 * bench/p2p: one file spread to N peers at once over shaped links, Libellula against curl.
 *
 * Builds hosts in network namespaces around a bridge (origin, scheduler, seed peer, N peers), caps
 * every host's upload and download with tbf, then measures in the same run:
 *   phase 1: every peer runs dfget at the same moment;
 *   phase 2: every peer runs curl straight from the origin at the same moment;
 * reporting the time until the last peer holds a verified copy, that time over the theoretical
 * floor, and the bytes the origin sent over the file size. See bench/README.md.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { isTrue, parseFlags, usage, type FlagSpec } from "../lib/args.ts";
import { Cleanup } from "../lib/cleanup.ts";
import {
  curlCommand,
  curlProbe,
  dfgetCommand,
  NAMESPACE_PORTS,
  readTraffic,
  requireDaemonBinaries,
  startHostDfdaemon,
  startScheduler,
  timedRun,
  type Daemon,
  type Fetch,
  type Traffic,
} from "../lib/cluster.ts";
import { cpuBusy, cpuSeconds, cpuSnapshot } from "../lib/cpu.ts";
import { makeRandomFile, sha256File } from "../lib/files.ts";
import { createNetwork, inNs, removeNamespaces, txBytes, type Host, type HostSpec, type Network } from "../lib/netns.ts";
import { startOrigin, type Origin, type OriginStats } from "../lib/origin.ts";
import { processTree, tail } from "../lib/proc.ts";
import { machine, section, summaryBlock, table } from "../lib/report.ts";
import { requireRoot } from "../lib/tools.ts";
import { ensureDir, type WorkDir } from "../lib/workdir.ts";
import { runBench, startRun } from "../lib/run.ts";
import { formatRate, formatRatio, formatSeconds, formatSize, formatThroughput, parseRate, parseSize } from "../lib/units.ts";

const BENCH = "p2p";
/** Namespace prefix; every namespace this bench makes is `lbp-*`. */
const NS_PREFIX = "lbp";
const SUBNET = "10.77.0.";
const ORIGIN_PORT = 8080;
const MAX_PEERS = 200;

const FLAGS = {
  peers: { help: "number of peers (N)", env: "LIBELLULA_BENCH_PEERS", default: "8" },
  size: { help: "file size", env: "LIBELLULA_BENCH_SIZE", default: "128MiB" },
  rate: { help: "cap of every link, each direction (tc rate)", env: "LIBELLULA_BENCH_RATE", default: "200mbit" },
  "origin-rate": { help: "origin's upload cap B (default: --rate)", env: "LIBELLULA_BENCH_ORIGIN_RATE" },
  timeout: { help: "seconds each download may take (default: 10× the curl floor, at least 120)", env: "LIBELLULA_BENCH_TIMEOUT" },
  keep: { boolean: true, help: "keep namespaces, processes and files for debugging", env: "LIBELLULA_BENCH_KEEP" },
  "curl-only": { boolean: true, help: "skip the P2P phase (checks the network without the daemons)" },
  "p2p-only": { boolean: true, help: "skip the curl phase" },
  "keep-logs": { boolean: true, help: "keep the daemons' logs even when every download succeeded", env: "LIBELLULA_BENCH_KEEP_LOGS" },
  clean: { boolean: true, help: "only remove leftovers of earlier runs, then exit" },
} satisfies Record<string, FlagSpec>;

/** What one daemon moved, and the CPU it used, during the P2P phase. */
interface DaemonFigures {
  name: string;
  traffic: Traffic | null;
  cpuSeconds: number;
}

/** The figures of one phase. */
interface PhaseResult {
  name: string;
  fetches: Fetch[];
  /** Time until the last peer held a verified copy; null if any peer failed. */
  lastMs: number | null;
  origin: OriginStats;
  /** Bytes the origin's interface sent, headers included. */
  wireBytes: number;
  /** Fraction of the machine's cores busy while the downloads ran. */
  cpuBusy: number;
  failures: string[];
}

const cleanup = new Cleanup();

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.help) {
    console.log(usage("npm run bench:p2p --", "Spreads one file to N peers over tc-shaped links in network namespaces; Libellula (dfget) against curl.", FLAGS));
    return 0;
  }
  requireRoot("bench/p2p");
  const peers = Number(flags.peers);
  if (!Number.isInteger(peers) || peers < 1 || peers > MAX_PEERS) throw new Error(`Invalid "--peers" "${flags.peers}": expected 1 to ${MAX_PEERS}`);
  const size = parseSize(flags.size);
  const rate = parseRate(flags.rate);
  const originRate = flags["origin-rate"] ? parseRate(flags["origin-rate"]) : rate;
  const keep = isTrue(flags.keep);
  const runP2p = !isTrue(flags["curl-only"]);
  const runCurl = !isTrue(flags["p2p-only"]);
  if (!runP2p && !runCurl) throw new Error(`"--curl-only" and "--p2p-only" leave nothing to run`);
  if (runP2p && !isTrue(flags.clean)) requireDaemonBinaries();

  const session = await startRun({
    bench: BENCH,
    cleanup,
    tools: ["ip", "tc", "curl"],
    keep,
    keepProcesses: keep,
    keepLogs: isTrue(flags["keep-logs"]),
    clean: isTrue(flags.clean),
    removeLeftovers: () => removeNamespaces(NS_PREFIX),
  });
  if (!session) return 0;
  const { work } = session;

  // Every peer has the same links, so b = d = rate; B is the origin's upload.
  const bytesPerSec = (bits: number) => bits / 8;
  const B = bytesPerSec(originRate);
  const b = bytesPerSec(rate);
  const d = bytesPerSec(rate);
  const floorMs = 1000 * Math.max(size / B, (peers * size) / (B + peers * b), size / d);
  const curlFloorMs = (1000 * peers * size) / B;
  const timeoutMs = flags.timeout ? Number(flags.timeout) * 1000 : Math.max(120_000, 10 * curlFloorMs);

  section("Setup");
  console.log(`${peers} peers, file ${formatSize(size)}, links ${formatRate(rate)} each way, origin upload ${formatRate(originRate)}`);
  console.log(`Floor max(S/B, N·S/(B+N·b), S/d) = ${formatSeconds(floorMs)}`);
  console.log(`Work dir ${work.dir}, logs ${work.logs}`);
  const source = join(work.dir, "blob");
  const t0 = performance.now();
  const sha = await makeRandomFile(source, size);
  console.log(`Generated ${formatSize(size)} of random bytes in ${formatSeconds(performance.now() - t0)}, sha256 ${sha}`);

  const specs: HostSpec[] = [
    { name: "origin", ip: `${SUBNET}1`, upBits: originRate, downBits: rate },
    { name: "sched", ip: `${SUBNET}2`, upBits: rate, downBits: rate },
    { name: "seed", ip: `${SUBNET}3`, upBits: rate, downBits: rate },
    ...Array.from({ length: peers }, (_, i) => ({ name: `p${i + 1}`, ip: `${SUBNET}${11 + i}`, upBits: rate, downBits: rate })),
  ];
  const network = await createNetwork(NS_PREFIX, specs);
  cleanup.add("namespaces", async () => {
    if (keep) return console.log(`Kept namespaces ${NS_PREFIX}-* (remove with: bun bench/p2p/run.ts --clean)`);
    await network.destroy();
  });
  console.log(`Network: bridge in ${network.switchNs}, ${network.hosts.length} hosts on ${SUBNET}0/24, tbf on both ends of every veth`);

  const originHost = network.host("origin");
  const origin = await startOrigin({
    file: source,
    hostname: originHost.ip,
    port: ORIGIN_PORT,
    controlSocket: join(work.dir, "origin.sock"),
    logFile: join(work.logs, "origin.log"),
    wrap: (cmd) => inNs(originHost.ns, cmd),
  });
  work.recordPid(origin.process.pid);
  cleanup.add("origin", () => (keep ? undefined : origin.stop()));
  console.log(`Origin at ${origin.url}`);
  const peerHosts = network.hosts.filter((h) => /^p\d+$/.test(h.name));
  await checkReachable([...peerHosts, network.host("seed"), network.host("sched")], origin);

  const results: PhaseResult[] = [];
  let daemonTraffic: DaemonFigures[] = [];
  if (runP2p) {
    section("Phase 1: every peer runs dfget at once");
    const { result, traffic } = await p2pPhase(network, origin, peerHosts, work, sha, timeoutMs, keep);
    cleanup.check();
    results.push(result);
    daemonTraffic = traffic;
    printPhase(result, size);
  }
  if (runCurl) {
    section("Phase 2: every peer runs curl from the origin at once");
    const result = await curlPhase(network, origin, peerHosts, work, sha, timeoutMs);
    cleanup.check();
    results.push(result);
    printPhase(result, size);
  }

  if (daemonTraffic.length > 0) {
    section("Daemons during the P2P phase (bytes from /metrics; CPU seconds from /proc)");
    console.log(
      table(
        ["Daemon", "back to source", "remote peer", "local peer", "served to peers", "CPU s"],
        daemonTraffic.map(({ name, traffic, cpuSeconds: cpu }) =>
          traffic === null
            ? [name, name === "scheduler" || name === "origin" ? "" : "unreachable", "", "", "", cpu.toFixed(1)]
            : [name, formatSize(traffic.backToSource), formatSize(traffic.remotePeer), formatSize(traffic.localPeer), formatSize(traffic.uploaded), cpu.toFixed(1)],
        ),
      ),
    );
  }

  const p2p = results.find((r) => r.name === "p2p");
  const curl = results.find((r) => r.name === "curl");
  const row = (label: string, r: PhaseResult | undefined) =>
    r === undefined
      ? null
      : r.lastMs === null
        ? [label, "FAILED", "", formatRatio(r.origin.bytesSent / size)]
        : [label, formatSeconds(r.lastMs), formatRatio(r.lastMs / floorMs), formatRatio(r.origin.bytesSent / size)];
  const rows = [row("Libellula (dfget)", p2p), row("curl from origin", curl)].filter((r): r is string[] => r !== null);
  const lines = [
    `#### bench/p2p: ${peers} peers + 1 seed peer, ${formatSize(size)} file, ${formatRate(rate)} per link each way${originRate !== rate ? `, origin upload ${formatRate(originRate)}` : ""}`,
    "",
    table(["Method", "Time to last peer", `÷ floor (${formatSeconds(floorMs)})`, "Origin bytes ÷ file"], rows),
    "",
  ];
  if (p2p?.lastMs != null && curl?.lastMs != null) {
    const ratio = p2p.lastMs / curl.lastMs;
    const verdict = ratio <= 1 ? `P2P ${(1 / ratio).toFixed(1)} times faster` : `P2P ${ratio.toFixed(2)} times slower`;
    lines.push(`P2P ÷ curl, time to last peer: ${formatRatio(ratio)} (${verdict})`, "");
  }
  lines.push(
    `Floor = max(S/B, N·S/(B+N·b), S/d) with S = ${formatSize(size)}, N = ${peers}, B = ${formatRate(originRate)}, b = d = ${formatRate(rate)}.`,
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
    `Command: \`npm run bench:p2p -- --peers ${peers} --size ${flags.size} --rate ${flags.rate}${flags["origin-rate"] ? ` --origin-rate ${flags["origin-rate"]}` : ""}\``,
  );
  console.log(summaryBlock(lines));

  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    section("FAILED");
    for (const failure of failures) console.error(failure);
    return 1;
  }
  session.succeeded();
  return 0;
}

/** Checks that every host reaches the origin through the bridge. */
async function checkReachable(hosts: Host[], origin: Origin): Promise<void> {
  const probeUrl = origin.url.replace(/\/[^/]*$/, "/healthy");
  await Promise.all(
    hosts.map(async (host) => {
      const text = await curlProbe((cmd) => inNs(host.ns, cmd))(probeUrl);
      if (text === null) throw new Error(`Host "${host.name}" (${host.ip}) cannot reach the origin at ${probeUrl}`);
    }),
  );
}

/** Phase 1: scheduler, seed and peers up; dfget on every peer at once; daemons stopped after. */
async function p2pPhase(
  network: Network,
  origin: Origin,
  peerHosts: Host[],
  work: WorkDir,
  sha: string,
  timeoutMs: number,
  keep: boolean,
): Promise<{ result: PhaseResult; traffic: DaemonFigures[] }> {
  const daemons: Daemon[] = [];
  const stopDaemons = async () => {
    await Promise.all(daemons.splice(0).map((daemon) => daemon.process.stop()));
  };
  cleanup.add("daemons", () => (keep ? undefined : stopDaemons()));
  const wrapFor = (host: Host) => (cmd: string[]) => inNs(host.ns, cmd);
  const probeFor = (host: Host) => curlProbe(wrapFor(host));

  const sched = network.host("sched");
  console.log("Starting the scheduler…");
  const scheduler = await startScheduler({
    ip: sched.ip,
    port: NAMESPACE_PORTS.scheduler,
    metricsPort: NAMESPACE_PORTS.schedulerMetrics,
    logFile: join(work.logs, "scheduler.log"),
    wrap: wrapFor(sched),
    probe: probeFor(sched),
  }).catch((error: Error) => Promise.reject(withLogs(error, work)));
  daemons.push(scheduler);
  work.recordPid(scheduler.process.pid);

  const daemonHosts = [network.host("seed"), ...peerHosts];
  const startFor = (host: Host) => {
    return startHostDfdaemon({
      host,
      dir: join(work.dir, host.name),
      schedulerIp: sched.ip,
      logFile: join(work.logs, `dfdaemon-${host.name}.log`),
      wrap: wrapFor(host),
      probe: probeFor(host),
    }).then((daemon) => {
      daemons.push(daemon);
      work.recordPid(daemon.process.pid);
      return daemon;
    });
  };
  console.log("Starting the seed peer…");
  const seed = await startFor(network.host("seed")).catch((error: Error) => Promise.reject(withLogs(error, work)));
  console.log(`Starting ${peerHosts.length} peers…`);
  const peerDaemons = await Promise.all(peerHosts.map(startFor)).catch((error: Error) => Promise.reject(withLogs(error, work)));

  await origin.reset();
  const wire0 = await txBytes(network.host("origin").ns, network.host("origin").dev);
  console.log(`All daemons healthy; ${peerHosts.length} × dfget ${origin.url}`);
  const cpu0 = cpuSnapshot();
  const everyDaemon = [scheduler, seed, ...peerDaemons];
  const daemonCpu0 = everyDaemon.map((daemon) => cpuSeconds(processTree(daemon.process.pid)));
  const originCpu0 = cpuSeconds(processTree(origin.process.pid));
  const fetches = await Promise.all(
    peerHosts.map((host) => {
      const dir = join(work.dir, host.name);
      const output = join(dir, "output");
      return timedRun(host.name, dfgetCommand(origin.url, output, join(dir, "dfdaemon.sock")), output, join(work.logs, `dfget-${host.name}.log`), wrapFor(host), timeoutMs);
    }),
  );
  const busy = cpuBusy(cpu0, cpuSnapshot());
  const daemonCpu = everyDaemon.map((daemon, i) => cpuSeconds(processTree(daemon.process.pid)) - daemonCpu0[i]!);
  const originCpu = cpuSeconds(processTree(origin.process.pid)) - originCpu0;
  const stats = await origin.stats();
  const wireBytes = (await txBytes(network.host("origin").ns, network.host("origin").dev)) - wire0;

  const traffic: DaemonFigures[] = await Promise.all(
    [seed, ...peerDaemons].map(async (daemon, i) => ({
      name: daemon.name,
      traffic: await readTraffic(daemon, probeFor(daemonHosts[i]!)),
      cpuSeconds: daemonCpu[i + 1]!,
    })),
  );
  traffic.push({ name: "scheduler", traffic: null, cpuSeconds: daemonCpu[0]! }, { name: "origin", traffic: null, cpuSeconds: originCpu });
  const failures = await verify("P2P", fetches, sha, work, (f) => `dfdaemon-${f.host}.log`);
  if (!keep) await stopDaemons();
  for (const daemon of [scheduler, seed, ...peerDaemons]) {
    const code = daemon.process.exitCode();
    if (!keep && code !== null && code !== 0 && code !== 143) console.log(`note: ${daemon.name} exited with code ${code} on SIGTERM (log ${daemon.process.logFile})`);
  }
  if (!keep) for (const host of daemonHosts) rmSync(join(work.dir, host.name), { recursive: true, force: true });
  return { result: { name: "p2p", fetches, lastMs: failures.length > 0 ? null : Math.max(...fetches.map((f) => f.ms)), origin: stats, wireBytes, cpuBusy: busy, failures }, traffic };
}

/** Phase 2: curl from the origin on every peer at once. */
async function curlPhase(network: Network, origin: Origin, peerHosts: Host[], work: WorkDir, sha: string, timeoutMs: number): Promise<PhaseResult> {
  await origin.reset();
  const originHost = network.host("origin");
  const wire0 = await txBytes(originHost.ns, originHost.dev);
  const cpu0 = cpuSnapshot();
  const fetches = await Promise.all(
    peerHosts.map((host) => {
      const output = join(ensureDir(join(work.dir, `curl-${host.name}`)), "output");
      return timedRun(host.name, curlCommand(origin.url, output), output, join(work.logs, `curl-${host.name}.log`), (cmd) => inNs(host.ns, cmd), timeoutMs);
    }),
  );
  const busy = cpuBusy(cpu0, cpuSnapshot());
  const stats = await origin.stats();
  const wireBytes = (await txBytes(originHost.ns, originHost.dev)) - wire0;
  const failures = await verify("curl", fetches, sha, work, null);
  for (const host of peerHosts) rmSync(join(work.dir, `curl-${host.name}`), { recursive: true, force: true });
  return { name: "curl", fetches, lastMs: failures.length > 0 ? null : Math.max(...fetches.map((f) => f.ms)), origin: stats, wireBytes, cpuBusy: busy, failures };
}

/** Checks every fetch's exit code and output sha256; returns failure messages with log excerpts. */
async function verify(label: string, fetches: Fetch[], sha: string, work: WorkDir, daemonLog: ((f: Fetch) => string) | null): Promise<string[]> {
  const failures: string[] = [];
  for (const fetch of fetches) {
    let problem: string | null = null;
    if (fetch.timedOut) problem = `stopped after the ${formatSeconds(fetch.ms)} time limit (--timeout)`;
    else if (fetch.code !== 0) problem = `exited with code ${fetch.code} after ${formatSeconds(fetch.ms)}`;
    else {
      const got = await sha256File(fetch.output);
      if (got === null) problem = "exited 0 but left no output file";
      else if (got !== sha) problem = `output sha256 ${got} differs from the origin's ${sha}`;
    }
    if (problem === null) continue;
    let message = `${label} on ${fetch.host}: ${problem}\n--- ${fetch.logFile} ---\n${tail(fetch.logFile, 15)}`;
    if (daemonLog) {
      const log = join(work.logs, daemonLog(fetch));
      message += `\n--- ${log} (last lines) ---\n${tail(log, 25)}`;
    }
    failures.push(message);
  }
  return failures;
}

function printPhase(result: PhaseResult, size: number): void {
  const sorted = [...result.fetches].sort((a, b) => a.ms - b.ms);
  for (const f of sorted) console.log(`  ${f.host.padEnd(5)} ${f.code === 0 ? formatSeconds(f.ms).padStart(9) : `exit ${f.code}`.padStart(9)}  ${formatThroughput(size, f.ms)}`);
  const clients = Object.entries(result.origin.byClient)
    .sort((a, b) => b[1] - a[1])
    .map(([ip, bytes]) => `${ip} ${formatSize(bytes)}`);
  console.log(
    `  origin sent ${formatSize(result.origin.bytesSent)} (${formatRatio(result.origin.bytesSent / size)} the file; ${formatSize(result.wireBytes)} on the wire) ` +
      `in ${result.origin.getRequests} GETs (${result.origin.rangeRequests} ranged), ${result.origin.headRequests} HEADs`,
  );
  if (clients.length > 0) console.log(`  by client: ${clients.join(", ")}`);
  const clientCpu = result.fetches.reduce((sum, f) => sum + (f.cpuSeconds ?? 0), 0);
  console.log(
    `  CPU busy while downloading: ${(result.cpuBusy * 100).toFixed(0)}% of ${navigator.hardwareConcurrency} cores (machine-wide); ` +
      `the ${result.fetches.length} ${result.name === "p2p" ? "dfget" : "curl"} processes used ${clientCpu.toFixed(1)} CPU s`,
  );
  if (result.failures.length > 0) console.log(`  ${result.failures.length} of ${result.fetches.length} downloads FAILED (details at the end)`);
}

function withLogs(error: Error, work: WorkDir): Error {
  return new Error(`${error.message}\nDaemon logs: ${work.logs}`);
}

await runBench(BENCH, cleanup, main);
