/**
 * bench/proxy: a large OCI blob pulled through a peer's registry mirror (the proxy), cold (nothing cached
 * anywhere: origin → seed peer → peer → client) and warm (from the peer's storage), against curl straight from
 * the origin in the same run; throughput and time to first byte of each, and the peer's peak RSS. A cold
 * `dfget` of the same bytes on the same daemons tells the proxy's share of the cost from the P2P path's.
 * See bench/README.md.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { isTrue, parseFlags, usage, type FlagSpec } from "../lib/args.ts";
import { Cleanup } from "../lib/cleanup.ts";
import { dfgetCommand, localProbe, readTraffic, requireDaemonBinaries, startDfdaemon, startScheduler, type Daemon } from "../lib/cluster.ts";
import { cpuSeconds } from "../lib/cpu.ts";
import { makeRandomFile, sha256File } from "../lib/files.ts";
import { startOrigin } from "../lib/origin.ts";
import { freePorts } from "../lib/ports.ts";
import { peakRss, processTree, run, tail } from "../lib/proc.ts";
import { machine, section, summaryBlock, table } from "../lib/report.ts";
import { formatRatio, formatSeconds, formatSize, formatThroughput, parseSize } from "../lib/units.ts";
import { ensureDir } from "../lib/workdir.ts";
import { runBench, startRun } from "../lib/run.ts";

const BENCH = "proxy";
const HOST_IP = "127.0.0.1";
/** Target of cold proxy throughput ÷ direct throughput on loopback. */
const TARGET_RATIO = 0.8;

const FLAGS = {
  size: { help: "blob size", env: "LIBELLULA_BENCH_SIZE", default: "512MiB" },
  timeout: { help: "seconds each pull may take", env: "LIBELLULA_BENCH_TIMEOUT", default: "600" },
  "no-dfget": { boolean: true, help: "skip the cold dfget comparison" },
  keep: { boolean: true, help: "keep files and logs for debugging", env: "LIBELLULA_BENCH_KEEP" },
  clean: { boolean: true, help: "only remove leftovers of earlier runs, then exit" },
} satisfies Record<string, FlagSpec>;

/** One timed pull. */
interface Pull {
  label: string;
  ok: boolean;
  /** Wall time from process start to exit. */
  ms: number;
  /** Time to first body byte as curl reports it (null for dfget). */
  ttfbMs: number | null;
  problem?: string;
}

const cleanup = new Cleanup();
const failures: string[] = [];

/** Runs curl, checks the output's sha256, and reads curl's own timings. */
async function curlPull(label: string, args: string[], output: string, sha: string, timeoutMs: number): Promise<Pull> {
  const started = performance.now();
  const result = await run(["curl", "-sS", "-f", "--max-time", String(timeoutMs / 1000), "-o", output, "-w", "%{time_starttransfer} %{time_total}", ...args]);
  const ms = performance.now() - started;
  if (result.code !== 0) return fail({ label, ok: false, ms, ttfbMs: null, problem: `curl exited ${result.code}: ${result.stderr.trim()}` });
  const [ttfb] = result.stdout.trim().split(/\s+/).map(Number);
  const got = await sha256File(output);
  rmSync(output, { force: true });
  if (got !== sha) return fail({ label, ok: false, ms, ttfbMs: null, problem: `output sha256 ${got} differs from the blob's ${sha}` });
  return { label, ok: true, ms, ttfbMs: ttfb === undefined ? null : ttfb * 1000 };
}

function fail(pull: Pull): Pull {
  failures.push(`${pull.label}: ${pull.problem}`);
  return pull;
}

function describe(size: number, pull: Pull): string {
  if (!pull.ok) return `FAILED (${pull.problem})`;
  const ttfb = pull.ttfbMs === null ? "" : `, first byte after ${formatSeconds(pull.ttfbMs)}`;
  return `${formatThroughput(size, pull.ms)} (${formatSeconds(pull.ms)}${ttfb})`;
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.help) {
    console.log(usage("npm run bench:proxy --", "A blob through a peer's registry mirror, cold and warm, against curl straight from the origin.", FLAGS));
    return 0;
  }
  const size = parseSize(flags.size);
  const timeoutMs = Number(flags.timeout) * 1000;
  if (!(timeoutMs > 0)) throw new Error(`Invalid "--timeout" "${flags.timeout}": expected seconds`);
  const keep = isTrue(flags.keep);
  if (!isTrue(flags.clean)) requireDaemonBinaries();
  const session = await startRun({ bench: BENCH, cleanup, tools: ["curl"], keep, clean: isTrue(flags.clean) });
  if (!session) return 0;
  const { work } = session;
  console.log(`Work dir ${work.dir}, logs ${work.logs}`);

  section(`${formatSize(size)} blob`);
  const source = join(work.dir, "blob");
  const t0 = performance.now();
  const sha = await makeRandomFile(source, size);
  console.log(`Generated in ${formatSeconds(performance.now() - t0)}, sha256 ${sha}`);
  const blobPath = `/v2/bench/app/blobs/sha256:${sha}`;
  const origin = await startOrigin({
    file: source,
    hostname: HOST_IP,
    port: 0,
    urlPath: blobPath,
    controlSocket: join(work.dir, "origin.sock"),
    logFile: join(work.logs, "origin.log"),
  });
  work.recordPid(origin.process.pid);
  cleanup.add("origin", () => origin.stop());
  const originBase = origin.url.slice(0, origin.url.length - blobPath.length);
  const output = join(work.dir, "output");

  const direct = await curlPull("curl from the registry", [origin.url], output, sha, timeoutMs);
  console.log(`curl from the registry:     ${describe(size, direct)}`);
  cleanup.check();

  const [schedulerPort, schedulerMetrics, ...ports] = freePorts(12, HOST_IP) as [number, number, ...number[]];
  const scheduler = await startScheduler({
    ip: HOST_IP,
    port: schedulerPort,
    metricsPort: schedulerMetrics,
    logFile: join(work.logs, "scheduler.log"),
    wrap: (cmd) => cmd,
    probe: localProbe,
  });
  work.recordPid(scheduler.process.pid);
  const start = async (name: "seed" | "peer", offset: number): Promise<Daemon> => {
    const home = ensureDir(join(work.dir, name));
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
      logFile: join(work.logs, `dfdaemon-${name}.log`),
      wrap: (cmd) => cmd,
      probe: localProbe,
    });
    work.recordPid(daemon.process.pid);
    return daemon;
  };
  const seed = await start("seed", 0);
  const peer = await start("peer", 5);
  const proxyPort = ports[9]!;
  const peerStartRss = peakRss(peer.process.pid);
  const daemons = [scheduler, seed, peer];

  // The registry-mirror form, as containerd and skopeo use it: origin-form path, upstream in X-Dragonfly-Registry.
  const mirrorArgs = (query: string) => ["-H", `X-Dragonfly-Registry: ${originBase}`, `http://${HOST_IP}:${proxyPort}${blobPath}${query}`];
  await origin.reset();
  const peerCpu0 = cpuSeconds(processTree(peer.process.pid));
  const cold = await curlPull("cold pull through the proxy", mirrorArgs(""), output, sha, timeoutMs);
  const peerCpu = cpuSeconds(processTree(peer.process.pid)) - peerCpu0;
  const originBytes = (await origin.stats()).bytesSent;
  console.log(`cold through the proxy:     ${describe(size, cold)}; peer used ${peerCpu.toFixed(2)} CPU s; origin sent ${formatRatio(originBytes / size)} the blob`);
  cleanup.check();
  const warmCpu0 = cpuSeconds(processTree(peer.process.pid));
  const warm = await curlPull("warm pull through the proxy", mirrorArgs(""), output, sha, timeoutMs);
  const warmCpu = cpuSeconds(processTree(peer.process.pid)) - warmCpu0;
  // A warm pull is the proxy alone (storage to socket): its CPU is the proxy's own cost per byte.
  console.log(`warm through the proxy:     ${describe(size, warm)}; peer used ${warmCpu.toFixed(2)} CPU s`);
  cleanup.check();

  // The same bytes under another task ID (a query parameter that is part of the task's URL): cold again.
  let dfget: Pull | null = null;
  if (!isTrue(flags["no-dfget"])) {
    const started = performance.now();
    const result = await run(dfgetCommand(`${origin.url}?bench=dfget`, output, join(work.dir, "peer", "dfdaemon.sock")));
    const ms = performance.now() - started;
    const got = result.code === 0 ? await sha256File(output) : null;
    rmSync(output, { force: true });
    dfget = result.code !== 0
      ? fail({ label: "cold dfget", ok: false, ms, ttfbMs: null, problem: `dfget exited ${result.code}: ${result.stderr.trim()}` })
      : got !== sha
        ? fail({ label: "cold dfget", ok: false, ms, ttfbMs: null, problem: `output sha256 ${got} differs from the blob's ${sha}` })
        : { label: "cold dfget", ok: true, ms, ttfbMs: null };
    console.log(`cold dfget (same daemons):  ${describe(size, dfget)}`);
  }
  const peerPeakRss = peakRss(peer.process.pid);
  const traffic = await readTraffic(peer, localProbe);
  console.log(`peer RSS:                   ${peerStartRss === null ? "?" : formatSize(peerStartRss)} after start, peak ${peerPeakRss === null ? "?" : formatSize(peerPeakRss)}`);
  if (traffic) console.log(`peer traffic:               back to source ${formatSize(traffic.backToSource)}, remote peer ${formatSize(traffic.remotePeer)}, local ${formatSize(traffic.localPeer)}`);
  if (failures.length > 0) {
    for (const daemon of daemons) failures.push(`--- ${daemon.process.logFile} (last lines) ---\n${tail(daemon.process.logFile, 25)}`);
  }

  const ratio = (pull: Pull) => (pull.ok && direct.ok ? formatRatio(direct.ms / pull.ms) : "");
  const ttfb = (pull: Pull) => (pull.ttfbMs === null ? "" : `${pull.ttfbMs.toFixed(0)} ms`);
  const rows = [
    ["curl from the registry", describe(size, direct).split(" (")[0]!, "1.00×", ttfb(direct)],
    ["curl through the proxy, cold", describe(size, cold).split(" (")[0]!, ratio(cold), ttfb(cold)],
    ["curl through the proxy, warm", describe(size, warm).split(" (")[0]!, ratio(warm), ttfb(warm)],
    ...(dfget ? [["dfget, cold (same daemons)", describe(size, dfget).split(" (")[0]!, ratio(dfget), ""]] : []),
  ];
  if (cold.ok && direct.ok) {
    const value = direct.ms / cold.ms;
    console.log(`cold ÷ direct:              ${formatRatio(value)}${value < TARGET_RATIO ? ` (below the ${TARGET_RATIO}× target)` : ""}`);
  }
  console.log(
    summaryBlock([
      `#### bench/proxy: a ${formatSize(size)} blob through a peer's registry mirror on loopback (origin → seed peer → peer → curl)`,
      "",
      table(["Pull", "Throughput", "÷ direct", "Time to first byte"], rows),
      "",
      `Throughput is blob size over wall time of the client process (decimal MB/s); time to first byte is curl's time_starttransfer; the peer used ${peerCpu.toFixed(2)} CPU s for the cold pull and ${warmCpu.toFixed(2)} CPU s for the warm one; peer peak RSS ${peerPeakRss === null ? "?" : formatSize(peerPeakRss)}; target cold ÷ direct ≥ ${TARGET_RATIO}×.`,
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
      `Command: \`npm run bench:proxy -- --size ${flags.size}\``,
    ]),
  );
  if (failures.length > 0) {
    section("FAILED");
    for (const failure of failures) console.error(failure);
    return 1;
  }
  session.succeeded();
  return 0;
}

await runBench(BENCH, cleanup, main);
