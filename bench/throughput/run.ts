/**
 * bench/throughput: one peer fetching a file through a seed peer on loopback, against curl straight
 * from the origin in the same run, for each file size; with both dfdaemons' peak RSS, to show that
 * memory does not grow with file size. See bench/README.md.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { isTrue, parseFlags, usage, type FlagSpec } from "../lib/args.ts";
import { Cleanup } from "../lib/cleanup.ts";
import {
  curlCommand,
  dfgetCommand,
  REPO_ROOT,
  localProbe,
  readTraffic,
  requireDaemonBinaries,
  startDfdaemon,
  startScheduler,
  timedRun,
  type Daemon,
  type Fetch,
  type Traffic,
} from "../lib/cluster.ts";
import { cpuBusy, cpuSeconds, cpuSnapshot, cpuSplit } from "../lib/cpu.ts";
import { makeRandomFile, sha256File } from "../lib/files.ts";
import { startOrigin, type Origin } from "../lib/origin.ts";
import { freePorts } from "../lib/ports.ts";
import { peakRss, processTree, tail } from "../lib/proc.ts";
import { machine, section, summaryBlock, table } from "../lib/report.ts";
import { ensureDir, type WorkDir } from "../lib/workdir.ts";
import { runBench, startRun } from "../lib/run.ts";
import { formatRatio, formatSeconds, formatSize, formatThroughput, parseSize } from "../lib/units.ts";

const BENCH = "throughput";
const HOST_IP = "127.0.0.1";
/** Below this, dfget's throughput is not "through the seed" and the bench says so. */
const TARGET_RATIO = 0.8;
const GIB = 1024 ** 3;

const FLAGS = {
  sizes: { help: "comma-separated file sizes", env: "LIBELLULA_BENCH_SIZES", default: "256MiB,1GiB" },
  timeout: { help: "seconds each download may take", env: "LIBELLULA_BENCH_TIMEOUT", default: "600" },
  keep: { boolean: true, help: "keep files and logs for debugging", env: "LIBELLULA_BENCH_KEEP" },
  "curl-only": { boolean: true, help: "measure only curl (checks the harness without the daemons)" },
  "keep-logs": { boolean: true, help: "keep the daemons' logs even when every download succeeded", env: "LIBELLULA_BENCH_KEEP_LOGS" },
  clean: { boolean: true, help: "only remove leftovers of earlier runs, then exit" },
  "warm-seed": { boolean: true, help: "let the seed peer fetch the file first, so the measured dfget moves only seed-to-peer traffic" },
  "cpu-prof": { help: "write a Bun CPU profile (markdown) of each dfdaemon into this directory", env: "LIBELLULA_BENCH_CPU_PROF" },
} satisfies Record<string, FlagSpec>;

/** Figures for one file size. */
interface SizeResult {
  size: number;
  curl: Fetch;
  dfget: Fetch | null;
  seedPeakRss: number | null;
  peerPeakRss: number | null;
  seedStartRss: number | null;
  peerStartRss: number | null;
  seedTraffic: Traffic | null;
  peerTraffic: Traffic | null;
  /** Bytes the origin sent during the dfget download. */
  originBytes: number | null;
  /** CPU seconds each dfdaemon used during the dfget download. */
  seedCpu: number | null;
  peerCpu: number | null;
}

const cleanup = new Cleanup();
const failures: string[] = [];

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.help) {
    console.log(usage("npm run bench:throughput --", "One peer fetching through a seed peer on loopback against curl from the origin, with dfdaemon peak RSS.", FLAGS));
    return 0;
  }
  const sizes = flags.sizes.split(",").map((text) => text.trim()).filter(Boolean).map(parseSize);
  if (sizes.length === 0) throw new Error(`"--sizes" is empty`);
  const timeoutMs = Number(flags.timeout) * 1000;
  if (!(timeoutMs > 0)) throw new Error(`Invalid "--timeout" "${flags.timeout}": expected seconds`);
  const keep = isTrue(flags.keep);
  const runP2p = !isTrue(flags["curl-only"]);
  if (runP2p && !isTrue(flags.clean)) requireDaemonBinaries();

  const session = await startRun({ bench: BENCH, cleanup, tools: ["curl"], keep, keepLogs: isTrue(flags["keep-logs"]), clean: isTrue(flags.clean) });
  if (!session) return 0;
  const { work } = session;
  console.log(`Work dir ${work.dir}, logs ${work.logs}`);

  const results: SizeResult[] = [];
  for (const size of sizes) {
    section(`${formatSize(size)}`);
    results.push(await measure(size, work, runP2p, timeoutMs, keep, flags["cpu-prof"] || undefined, isTrue(flags["warm-seed"])));
    cleanup.check();
  }

  const rows = results.map((r) => {
    const curlCell = r.curl.code === 0 ? formatThroughput(r.size, r.curl.ms) : "FAILED";
    const dfgetOk = r.dfget !== null && r.dfget.code === 0;
    return [
      formatSize(r.size),
      curlCell,
      r.dfget === null ? "not run" : dfgetOk ? formatThroughput(r.size, r.dfget.ms) : "FAILED",
      dfgetOk && r.curl.code === 0 ? formatRatio(r.curl.ms / r.dfget!.ms) : "",
      r.seedPeakRss === null ? "" : formatSize(r.seedPeakRss),
      r.peerPeakRss === null ? "" : formatSize(r.peerPeakRss),
      r.originBytes === null ? "" : formatRatio(r.originBytes / r.size),
      r.seedCpu === null ? "" : (r.seedCpu / (r.size / GIB)).toFixed(2),
      r.peerCpu === null ? "" : (r.peerCpu / (r.size / GIB)).toFixed(2),
    ];
  });
  const lines = [
    "#### bench/throughput: one peer fetching through a seed peer on loopback, no shaping",
    "",
    table(["File", "curl from origin", "dfget via seed peer", "dfget ÷ curl", "seed peak RSS", "peer peak RSS", "origin bytes ÷ file", "seed CPU s/GiB", "peer CPU s/GiB"], rows),
    "",
    `Throughput is file size over wall time from process start to exit (decimal MB/s); peak RSS is VmHWM of each dfdaemon, read at the end; CPU is user + system time of each dfdaemon during the download, per GiB of file; target dfget ÷ curl ≥ ${TARGET_RATIO}×.`,
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
    `Command: \`npm run bench:throughput -- --sizes ${flags.sizes}\``,
  ];
  console.log(summaryBlock(lines));
  if (failures.length > 0) {
    section("FAILED");
    for (const failure of failures) console.error(failure);
    return 1;
  }
  session.succeeded();
  return 0;
}

/** Generates a file of `size`, fetches it with curl, then through a fresh seed peer and peer with dfget. */
async function measure(size: number, work: WorkDir, runP2p: boolean, timeoutMs: number, keep: boolean, profileDir: string | undefined, warmSeed: boolean): Promise<SizeResult> {
  const label = formatSize(size).replace(/\s+/g, "");
  const dir = ensureDir(join(work.dir, label));
  const source = join(dir, "blob");
  const t0 = performance.now();
  const sha = await makeRandomFile(source, size);
  console.log(`Generated ${formatSize(size)} in ${formatSeconds(performance.now() - t0)}, sha256 ${sha}`);

  const origin = await startOrigin({
    file: source,
    hostname: HOST_IP,
    port: 0,
    controlSocket: join(dir, "origin.sock"),
    logFile: join(work.logs, `origin-${label}.log`),
  });
  work.recordPid(origin.process.pid);
  const stopOrigin = () => origin.stop();
  cleanup.add(`origin ${label}`, stopOrigin);

  const curlOut = join(dir, "curl-output");
  const cpu0 = cpuSnapshot();
  const curl = await timedRun("curl", curlCommand(origin.url, curlOut), curlOut, join(work.logs, `curl-${label}.log`), (cmd) => cmd, timeoutMs);
  cleanup.check();
  await check("curl", curl, sha);
  console.log(`curl from origin:      ${curl.code === 0 ? `${formatThroughput(size, curl.ms)} (${formatSeconds(curl.ms)})` : `exit ${curl.code}`}, CPU ${busyText(cpuBusy(cpu0, cpuSnapshot()), curl)}`);
  rmSync(curlOut, { force: true });

  const result: SizeResult = {
    size,
    curl,
    dfget: null,
    seedPeakRss: null,
    peerPeakRss: null,
    seedStartRss: null,
    peerStartRss: null,
    seedTraffic: null,
    peerTraffic: null,
    originBytes: null,
    seedCpu: null,
    peerCpu: null,
  };
  if (runP2p) await measureDfget(result, origin, sha, dir, label, work, timeoutMs, profileDir, warmSeed);
  await stopOrigin();
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return result;
}

/** Starts a scheduler, a seed peer and a peer; the peer runs dfget; reads traffic and peak RSS. */
async function measureDfget(result: SizeResult, origin: Origin, sha: string, dir: string, label: string, work: WorkDir, timeoutMs: number, profileDir: string | undefined, warmSeed: boolean): Promise<void> {
  const daemons: Daemon[] = [];
  const stopAll = async () => {
    // A profiled daemon writes its profile while it exits, which takes longer than the usual grace.
    await Promise.all(daemons.splice(0).map((daemon) => daemon.process.stop(profileDir === undefined ? undefined : 60_000)));
  };
  cleanup.add(`daemons ${label}`, stopAll);
  const [schedulerPort, schedulerMetrics, ...ports] = freePorts(12, HOST_IP) as [number, number, ...number[]];
  const scheduler = await startScheduler({
    ip: HOST_IP,
    port: schedulerPort,
    metricsPort: schedulerMetrics,
    logFile: join(work.logs, `scheduler-${label}.log`),
    wrap: (cmd) => cmd,
    probe: localProbe,
  });
  daemons.push(scheduler);
  work.recordPid(scheduler.process.pid);
  const start = async (name: "seed" | "peer", offset: number) => {
    const home = ensureDir(join(dir, name));
    const daemon = await startDfdaemon({
      name,
      ip: HOST_IP,
      hostname: `bench-${name}`,
      uploadPort: ports[offset]!,
      storagePort: ports[offset + 1]!,
      healthPort: ports[offset + 2]!,
      metricsPort: ports[offset + 3]!,
      proxyPort: ports[offset + 4]!,
      storageDir: ensureDir(join(home, "storage")),
      socketPath: join(home, "dfdaemon.sock"),
      schedulerAddr: `${HOST_IP}:${schedulerPort}`,
      seed: name === "seed",
      logFile: join(work.logs, `dfdaemon-${name}-${label}.log`),
      wrap: profileDir === undefined ? (cmd) => cmd : profiled(ensureDir(profileDir), `${name}-${label}`),
      probe: localProbe,
    });
    daemons.push(daemon);
    work.recordPid(daemon.process.pid);
    return daemon;
  };
  const seed = await start("seed", 0);
  const peer = await start("peer", 5);
  result.seedStartRss = peakRss(seed.process.pid);
  result.peerStartRss = peakRss(peer.process.pid);

  if (warmSeed) {
    const warmOutput = join(dir, "seed-output");
    const warm = await timedRun("dfget", dfgetCommand(origin.url, warmOutput, join(dir, "seed", "dfdaemon.sock")), warmOutput, join(work.logs, `dfget-seed-${label}.log`), (cmd) => cmd, timeoutMs);
    if (warm.code !== 0) throw new Error(`Warming the seed peer failed: dfget exited with code ${warm.code}`);
    console.log(`seed warmed from origin: ${formatThroughput(result.size, warm.ms)} (${formatSeconds(warm.ms)})`);
    rmSync(warmOutput, { force: true });
  }
  await origin.reset();
  const output = join(dir, "dfget-output");
  const cpu0 = cpuSnapshot();
  const daemonCpu = () => [seed, peer, origin, scheduler].map((daemon) => cpuSeconds(processTree(daemon.process.pid)));
  const daemonCpu0 = daemonCpu();
  const split0 = [seed, peer].map((daemon) => cpuSplit(processTree(daemon.process.pid)));
  const dfget = await timedRun("dfget", dfgetCommand(origin.url, output, join(dir, "peer", "dfdaemon.sock")), output, join(work.logs, `dfget-${label}.log`), (cmd) => cmd, timeoutMs);
  const busy = cpuBusy(cpu0, cpuSnapshot());
  const [seedCpu, peerCpu, originCpu, schedulerCpu] = daemonCpu().map((value, i) => value - daemonCpu0[i]!);
  const [seedSplit, peerSplit] = [seed, peer].map((daemon, i) => {
    const now = cpuSplit(processTree(daemon.process.pid));
    return `user ${(now.user - split0[i]!.user).toFixed(2)}, system ${(now.system - split0[i]!.system).toFixed(2)}`;
  });
  result.seedCpu = seedCpu!;
  result.peerCpu = peerCpu!;
  cleanup.check();
  result.dfget = dfget;
  result.originBytes = (await origin.stats()).bytesSent;
  result.seedTraffic = await readTraffic(seed, localProbe);
  result.peerTraffic = await readTraffic(peer, localProbe);
  result.seedPeakRss = peakRss(seed.process.pid);
  result.peerPeakRss = peakRss(peer.process.pid);
  const ok = await check("dfget", dfget, sha, [seed, peer, scheduler]);
  console.log(`dfget via seed peer:   ${dfget.code === 0 ? `${formatThroughput(result.size, dfget.ms)} (${formatSeconds(dfget.ms)})` : `exit ${dfget.code}`}, CPU ${busyText(busy, dfget)}`);
  if (ok && result.curl.code === 0) {
    const ratio = result.curl.ms / dfget.ms;
    console.log(`dfget ÷ curl:          ${formatRatio(ratio)}${ratio < TARGET_RATIO ? ` (below the ${TARGET_RATIO}× target)` : ""}`);
  }
  const rss = (start: number | null, peak: number | null) => `${start === null ? "?" : formatSize(start)} after start, peak ${peak === null ? "?" : formatSize(peak)}`;
  console.log(`seed RSS:              ${rss(result.seedStartRss, result.seedPeakRss)}; ${seedCpu!.toFixed(2)} CPU s during the download (${seedSplit})`);
  console.log(`peer RSS:              ${rss(result.peerStartRss, result.peerPeakRss)}; ${peerCpu!.toFixed(2)} CPU s during the download (${peerSplit})`);
  console.log(`origin sent:           ${formatSize(result.originBytes)} (${formatRatio(result.originBytes / result.size)} the file); origin ${originCpu!.toFixed(2)}, scheduler ${schedulerCpu!.toFixed(2)} CPU s during the download`);
  for (const [name, traffic] of [["seed", result.seedTraffic], ["peer", result.peerTraffic]] as const) {
    if (traffic === null) console.log(`${name} traffic:          metrics unreachable`);
    else console.log(`${name} traffic:          back to source ${formatSize(traffic.backToSource)}, remote peer ${formatSize(traffic.remotePeer)}, local ${formatSize(traffic.localPeer)}, served ${formatSize(traffic.uploaded)}`);
  }
  if (result.peerTraffic !== null && result.peerTraffic.backToSource > 0) {
    console.log(`WARNING: the peer fetched ${formatSize(result.peerTraffic.backToSource)} from the origin itself, not through the seed peer`);
  }
  await stopAll();
  rmSync(output, { force: true });
}

/** Runs bin/dfdaemon's entry with Bun's CPU profiler, writing `<name>.md` into `dir` when the daemon exits. */
function profiled(dir: string, name: string): (cmd: string[]) => string[] {
  return ([, ...args]) => [join(REPO_ROOT, "node_modules", ".bin", "bun"), "--cpu-prof-md", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.md`, join(REPO_ROOT, "src", "peer", "main.ts"), ...args];
}

/** `87% of 2 cores busy`, with the client's own CPU time when known. */
function busyText(busy: number, client?: Fetch): string {
  const own = client?.cpuSeconds == null ? "" : `; the client used ${client.cpuSeconds.toFixed(2)} CPU s`;
  return `${(busy * 100).toFixed(0)}% of ${navigator.hardwareConcurrency} cores busy${own}`;
}

/** Records a failure (exit code or sha256) with log excerpts; true when the fetch is good. */
async function check(label: string, fetch: Fetch, sha: string, daemons: Daemon[] = []): Promise<boolean> {
  let problem: string | null = null;
  if (fetch.timedOut) problem = `stopped after the ${formatSeconds(fetch.ms)} time limit (--timeout)`;
    else if (fetch.code !== 0) problem = `exited with code ${fetch.code} after ${formatSeconds(fetch.ms)}`;
  else {
    const got = await sha256File(fetch.output);
    if (got === null) problem = "exited 0 but left no output file";
    else if (got !== sha) problem = `output sha256 ${got} differs from the origin's ${sha}`;
  }
  if (problem === null) return true;
  let message = `${label}: ${problem}\n--- ${fetch.logFile} ---\n${tail(fetch.logFile, 15)}`;
  for (const daemon of daemons) message += `\n--- ${daemon.process.logFile} (last lines) ---\n${tail(daemon.process.logFile, 25)}`;
  failures.push(message);
  return false;
}

await runBench(BENCH, cleanup, main);
