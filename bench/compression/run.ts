/**
 * bench/compression: zstd on the wire between peers, on and off, for a compressible file (JSON log lines) and an
 * incompressible one (random bytes), in the shaped-namespace cluster of bench/p2p, all in one run.
 *
 * For each file and each setting, fresh daemons start (scheduler, seed peer, N peers). The seed fetches the file
 * from the origin first (not timed), so the figure is the peer-to-peer wire alone; then every peer runs dfget at
 * the same moment and the time until the last one holds a verified copy is measured.
 *   off: download.compression none (plain Vortex), upload.compression none
 *   on:  download.compression auto, upload.compression auto (compress only where it pays)
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_ZSTD_LEVEL } from "../../src/peer/transport/compression/zstd.ts";
import { isTrue, parseFlags, usage, type FlagSpec } from "../lib/args.ts";
import { Cleanup } from "../lib/cleanup.ts";
import { curlProbe, dfgetCommand, NAMESPACE_PORTS, requireDaemonBinaries, startHostDfdaemon, startScheduler, timedRun, type Daemon, type Fetch } from "../lib/cluster.ts";
import { makeRandomFile, sha256File } from "../lib/files.ts";
import { createNetwork, inNs, removeNamespaces, type Host, type HostSpec, type Network } from "../lib/netns.ts";
import { startOrigin, type Origin } from "../lib/origin.ts";
import { cpuBusy, cpuSeconds, cpuSnapshot } from "../lib/cpu.ts";
import { processTree, tail } from "../lib/proc.ts";
import { machine, section, summaryBlock, table } from "../lib/report.ts";
import { requireRoot } from "../lib/tools.ts";
import type { WorkDir } from "../lib/workdir.ts";
import { runBench, startRun } from "../lib/run.ts";
import { formatRate, formatRatio, formatSeconds, formatSize, parseRate, parseSize } from "../lib/units.ts";

const BENCH = "compression";
/** Namespace prefix, distinct from bench/p2p's so the two never remove each other's hosts. */
const NS_PREFIX = "lbz";
const SUBNET = "10.78.0.";
const ORIGIN_PORTS = { logs: 8080, random: 8081 };

const FLAGS = {
  peers: { help: "number of peers (N)", env: "LIBELLULA_BENCH_PEERS", default: "4" },
  size: { help: "size of each file", env: "LIBELLULA_BENCH_SIZE", default: "64MiB" },
  rate: { help: "cap of every link, each direction (tc rate)", env: "LIBELLULA_BENCH_RATE", default: "100mbit" },
  rounds: { help: "repetitions of the four distributions; the summary gives medians", env: "LIBELLULA_BENCH_ROUNDS", default: "1" },
  timeout: { help: "seconds each download may take", env: "LIBELLULA_BENCH_TIMEOUT", default: "300" },
  files: { help: "which files to distribute: logs, random or both (comma-separated)", env: "LIBELLULA_BENCH_FILES", default: "logs,random" },
  "on-args": { help: "dfdaemon flags of the compression-on setting", env: "LIBELLULA_BENCH_ON_ARGS", default: "--download.compression auto --upload.compression auto" },
  "keep-logs": { boolean: true, help: "keep the daemons' logs even when every download succeeded" },
  clean: { boolean: true, help: "only remove leftovers of earlier runs, then exit" },
} satisfies Record<string, FlagSpec>;

type FileKind = keyof typeof ORIGIN_PORTS;
type Setting = "off" | "on";

const SETTING_ARGS: Record<Setting, string[]> = {
  off: ["--download.compression", "none", "--upload.compression", "none"],
  on: ["--download.compression", "auto", "--upload.compression", "auto"],
};

/** One timed distribution. */
interface PhaseResult {
  round?: number;
  file: FileKind;
  setting: Setting;
  lastMs: number | null;
  /** The longest task time a peer's daemon logged ("Task finished" durationMs): the transfer without dfget's own start. */
  taskMs: number | null;
  /** CPU seconds the seed and the peers' daemons spent during the timed distribution, and how busy the machine was. */
  cpu: { seed: number; peers: number; busy: number; waiting: number };
  /** Compressed pieces and bytes before/after, summed over every daemon's upload side. */
  compressed: { pieces: number; skipped: number; raw: number; wire: number };
  failures: string[];
}

const cleanup = new Cleanup();

/**
 * Writes `size` bytes of JSON log lines with random IDs, addresses and timings (zstd level 1 shrinks them about 4:1);
 * returns their sha256 and the compression ratio of a sample.
 */
async function makeLogFile(path: string, size: number): Promise<{ sha: string; ratio: number }> {
  const hasher = new Bun.CryptoHasher("sha256");
  const handle = await open(path, "w");
  const encoder = new TextEncoder();
  const levels = ["info", "info", "info", "debug", "warn", "error"];
  const routes = ["tasks", "peers", "hosts", "jobs", "schedulers", "applications", "clusters"];
  const messages = ["request served", "piece downloaded from parent", "task succeeded", "cache miss, going back to source", "peer left"];
  const random = new Uint32Array(10);
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  let written = 0;
  let sample: Uint8Array | undefined;
  try {
    const block = new Uint8Array(4 * 1024 * 1024);
    while (written < size) {
      let at = 0;
      while (at < block.length - 512) {
        crypto.getRandomValues(random);
        const r = random as unknown as number[];
        const line =
          `{"time":"2025-06-${String(1 + (r[0]! % 28)).padStart(2, "0")}T${String(r[1]! % 24).padStart(2, "0")}:${String(r[2]! % 60).padStart(2, "0")}:${String(r[3]! % 60).padStart(2, "0")}.${String(r[4]! % 1000).padStart(3, "0")}Z",` +
          `"level":"${levels[r[5]! % levels.length]}","trace":"${hex(r[6]!)}${hex(r[7]!)}","span":"${hex(r[8]!)}",` +
          `"peer":"10.${r[9]! & 0xff}.${(r[9]! >> 8) & 0xff}.${(r[9]! >> 16) & 0xff}","route":"/api/v1/${routes[r[0]! % routes.length]}/${r[1]! % 5000}",` +
          `"status":${r[2]! % 50 === 0 ? 500 : 200},"ms":${r[3]! % 2000},"bytes":${r[9]! % 10_000_000},"msg":"${messages[r[4]! % messages.length]}"}\n`;
        at += encoder.encodeInto(line, block.subarray(at)).written;
      }
      const chunk = block.subarray(0, Math.min(at, size - written));
      sample ??= chunk.slice(0, Math.min(chunk.length, 1024 * 1024));
      hasher.update(chunk);
      await handle.write(chunk, 0, chunk.length, written);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  const s = sample ?? new Uint8Array(0);
  return { sha: hasher.digest("hex"), ratio: s.length / Bun.zstdCompressSync(s, { level: DEFAULT_ZSTD_LEVEL }).length };
}

/** Sums a counter's samples whose labels match `match`. */
function sumMetric(text: string, name: string, match: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})?\\s+(\\S+)`).exec(line);
    if (m && match.test(m[1] ?? "")) sum += Number(m[2]);
  }
  return sum;
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags.help) {
    console.log(usage("bun bench/compression/run.ts", "Peer-to-peer distribution with and without zstd on the wire, compressible and incompressible files, over tc-shaped links.", FLAGS));
    return 0;
  }
  requireRoot("bench/compression");
  const peers = Number(flags.peers);
  if (!Number.isInteger(peers) || peers < 1 || peers > 100) throw new Error(`Invalid "--peers" "${flags.peers}": expected 1 to 100`);
  const rounds = Number(flags.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`Invalid "--rounds" "${flags.rounds}": expected 1 to 20`);
  const kinds = String(flags.files).split(",").map((f) => f.trim()).filter(Boolean) as FileKind[];
  const unknownKind = kinds.find((k) => !(k in ORIGIN_PORTS));
  if (kinds.length === 0 || unknownKind !== undefined) throw new Error(`Invalid "--files" "${flags.files}": expected logs, random or both, comma-separated`);
  SETTING_ARGS.on = String(flags["on-args"]).split(/\s+/).filter(Boolean);
  const size = parseSize(flags.size);
  const rate = parseRate(flags.rate);
  const timeoutMs = Number(flags.timeout) * 1000;
  if (!isTrue(flags.clean)) requireDaemonBinaries();
  const session = await startRun({
    bench: BENCH,
    cleanup,
    tools: ["ip", "tc", "curl"],
    keepLogs: isTrue(flags["keep-logs"]),
    clean: isTrue(flags.clean),
    removeLeftovers: () => removeNamespaces(NS_PREFIX),
  });
  if (!session) return 0;
  const { work } = session;

  section("Setup");
  const files: Record<FileKind, { path: string; sha: string }> = {
    logs: { path: join(work.dir, "logs.json"), sha: "" },
    random: { path: join(work.dir, "random.bin"), sha: "" },
  };
  const logs = await makeLogFile(files.logs.path, size);
  files.logs.sha = logs.sha;
  files.random.sha = await makeRandomFile(files.random.path, size);
  console.log(`${peers} peers + 1 seed, links ${formatRate(rate)} each way; files of ${formatSize(size)}: JSON logs (zstd -1 ratio ${logs.ratio.toFixed(2)}:1) and random bytes`);

  const specs: HostSpec[] = [
    // The origin is not what is measured (the seed is warmed first), so its link is not shaped down.
    { name: "origin", ip: `${SUBNET}1`, upBits: 10 * rate, downBits: 10 * rate },
    { name: "sched", ip: `${SUBNET}2`, upBits: rate, downBits: rate },
    { name: "seed", ip: `${SUBNET}3`, upBits: rate, downBits: rate },
    ...Array.from({ length: peers }, (_, i) => ({ name: `p${i + 1}`, ip: `${SUBNET}${11 + i}`, upBits: rate, downBits: rate })),
  ];
  const network = await createNetwork(NS_PREFIX, specs);
  cleanup.add("namespaces", () => network.destroy());
  const originHost = network.host("origin");
  const origins = {} as Record<FileKind, Origin>;
  for (const kind of ["logs", "random"] as const) {
    origins[kind] = await startOrigin({
      file: files[kind].path,
      hostname: originHost.ip,
      port: ORIGIN_PORTS[kind],
      urlPath: `/${kind}`,
      controlSocket: join(work.dir, `origin-${kind}.sock`),
      logFile: join(work.logs, `origin-${kind}.log`),
      wrap: (cmd) => inNs(originHost.ns, cmd),
    });
    work.recordPid(origins[kind].process.pid);
    cleanup.add(`origin ${kind}`, () => origins[kind].stop());
  }

  const results: PhaseResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const file of kinds) {
      // Alternate which setting goes first, so a machine that grows busier during a run favours neither.
      const order: Setting[] = round % 2 === 1 ? ["off", "on"] : ["on", "off"];
      for (const setting of order) {
        section(`${rounds > 1 ? `round ${round}: ` : ""}${file} file, compression ${setting}`);
        const result = await phase(network, origins[file], files[file].sha, file, setting, work, timeoutMs, size, `r${round}`);
        cleanup.check();
        results.push({ ...result, round });
        const c = result.compressed;
        console.log(
          result.lastMs === null
            ? "  FAILED"
            : `  last peer after ${formatSeconds(result.lastMs)} (longest daemon task ${result.taskMs === null ? "?" : formatSeconds(result.taskMs)}); CPU s: seed ${result.cpu.seed.toFixed(1)}, peers ${result.cpu.peers.toFixed(1)}, machine ${Math.round(result.cpu.busy * 100)}% busy, daemons waited ${result.cpu.waiting.toFixed(1)} s for a core; ` +
                `pieces served compressed ${c.pieces}, sent as they were ${c.skipped}` +
                (c.raw > 0 ? `, ${formatSize(c.raw)} → ${formatSize(c.wire)} on the wire (${(c.raw / c.wire).toFixed(2)}:1)` : ""),
        );
      }
    }
  }

  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length === 0 ? null : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const rows = kinds.map((file) => {
    const of = (setting: Setting) => results.filter((r) => r.file === file && r.setting === setting);
    const times = (setting: Setting) => of(setting).map((r) => r.lastMs).filter((ms): ms is number => ms !== null);
    /** Speed-up of each round, off ÷ on, measured minutes apart on the same machine. */
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const off = of("off").find((r) => r.round === round)?.lastMs;
      const on = of("on").find((r) => r.round === round)?.lastMs;
      if (off != null && on != null) ratios.push(off / on);
    }
    const off = median(times("off"));
    const on = median(times("on"));
    const ratio = median(ratios);
    const c = of("on").reduce((sum, r) => ({ raw: sum.raw + r.compressed.raw, wire: sum.wire + r.compressed.wire }), { raw: 0, wire: 0 });
    const cpuOf = (setting: Setting) => median(of(setting).map((r) => r.cpu.seed + r.cpu.peers));
    const waitOf = (setting: Setting) => median(of(setting).map((r) => r.cpu.waiting));
    const taskRatios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const off = of("off").find((r) => r.round === round)?.taskMs;
      const on = of("on").find((r) => r.round === round)?.taskMs;
      if (off != null && on != null) taskRatios.push(off / on);
    }
    const taskRatio = median(taskRatios);
    return [
      file === "logs" ? `JSON logs (${logs.ratio.toFixed(1)}:1)` : "random bytes",
      off === null ? "FAILED" : formatSeconds(off),
      on === null ? "FAILED" : formatSeconds(on),
      ratio === null ? "" : `${formatRatio(ratio)} ${ratio >= 1 ? "faster" : "slower"}` + (ratios.length > 1 ? ` (${ratios.map((r) => r.toFixed(2)).join(", ")})` : ""),
      c.wire > 0 ? `${(c.raw / c.wire).toFixed(2)}:1` : "not compressed",
      taskRatio === null ? "" : `${formatRatio(taskRatio)}`,
      `${cpuOf("off")?.toFixed(1) ?? "?"} / ${cpuOf("on")?.toFixed(1) ?? "?"}`,
      `${waitOf("off")?.toFixed(1) ?? "?"} / ${waitOf("on")?.toFixed(1) ?? "?"}`,
    ];
  });
  console.log(
    summaryBlock([
      `#### bench/compression: ${peers} peers + 1 warm seed peer, ${formatSize(size)} per file, ${formatRate(rate)} per link each way` + (rounds > 1 ? `, ${rounds} rounds (medians)` : ""),
      "",
      table(["File", "Time to last peer, compression off", "on (auto)", "Speed-up (each round)", "Wire ratio (on)", "Daemon task speed-up", "Daemon CPU s off / on", "Waiting for a core s off / on"], rows),
      "",
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}.`,
      `Command: \`sudo bun bench/compression/run.ts --peers ${peers} --size ${flags.size} --rate ${flags.rate}${rounds > 1 ? ` --rounds ${rounds}` : ""}` +
        `${kinds.length < 2 ? ` --files ${kinds.join(",")}` : ""}${flags["on-args"] !== FLAGS["on-args"].default ? ` --on-args "${flags["on-args"]}"` : ""}\``,
    ]),
  );
  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    section("FAILED");
    for (const failure of failures) console.error(failure);
    return 1;
  }
  session.succeeded();
  return 0;
}

/** One distribution: fresh daemons with `setting`, the seed warmed, then every peer's dfget at once. */
async function phase(network: Network, origin: Origin, sha: string, file: FileKind, setting: Setting, work: WorkDir, timeoutMs: number, size: number, tag: string): Promise<PhaseResult> {
  const base = (process.env.LIBELLULA_BENCH_DFDAEMON_ARGS_BASE ??= process.env.LIBELLULA_BENCH_DFDAEMON_ARGS ?? "");
  process.env.LIBELLULA_BENCH_DFDAEMON_ARGS = [base, ...SETTING_ARGS[setting]].join(" ");
  const label = `${tag}-${file}-${setting}`;
  const daemons: Daemon[] = [];
  const wrapFor = (host: Host) => (cmd: string[]) => inNs(host.ns, cmd);
  const sched = network.host("sched");
  try {
    const scheduler = await startScheduler({
      ip: sched.ip,
      port: NAMESPACE_PORTS.scheduler,
      metricsPort: NAMESPACE_PORTS.schedulerMetrics,
      logFile: join(work.logs, `${label}-scheduler.log`),
      wrap: wrapFor(sched),
      probe: curlProbe(wrapFor(sched)),
    });
    daemons.push(scheduler);
    work.recordPid(scheduler.process.pid);
    const peerHosts = network.hosts.filter((h) => /^p\d+$/.test(h.name));
    const startFor = async (host: Host) => {
      const daemon = await startHostDfdaemon({
        host,
        dir: join(work.dir, label, host.name),
        schedulerIp: sched.ip,
        logFile: join(work.logs, `${label}-dfdaemon-${host.name}.log`),
        wrap: wrapFor(host),
        probe: curlProbe(wrapFor(host)),
      });
      daemons.push(daemon);
      work.recordPid(daemon.process.pid);
      return daemon;
    };
    const seedHost = network.host("seed");
    await startFor(seedHost);
    await Promise.all(peerHosts.map(startFor));

    const seedDir = join(work.dir, label, "seed");
    const warm = await timedRun("seed", dfgetCommand(origin.url, join(seedDir, "output"), join(seedDir, "dfdaemon.sock")), join(seedDir, "output"), join(work.logs, `${label}-dfget-seed.log`), wrapFor(seedHost), timeoutMs);
    const failures = await verify(`${label} seed warm-up`, [warm], sha);
    if (failures.length > 0) return { file, setting, lastMs: null, taskMs: null, cpu: { seed: 0, peers: 0, busy: 0, waiting: 0 }, compressed: { pieces: 0, skipped: 0, raw: 0, wire: 0 }, failures };
    console.log(`  seed warmed in ${formatSeconds(warm.ms)}; ${peerHosts.length} × dfget at once`);

    const seedDaemon = daemons[1] as Daemon;
    const peerDaemons = daemons.slice(2);
    const machine0 = cpuSnapshot();
    const seedCpu0 = cpuSeconds(processTree(seedDaemon.process.pid));
    const peersCpu0 = peerDaemons.map((d) => cpuSeconds(processTree(d.process.pid)));
    const cluster = () => [seedDaemon, ...peerDaemons].flatMap((d) => processTree(d.process.pid));
    const wait0 = waitSeconds(cluster());
    const fetches = await Promise.all(
      peerHosts.map((host) => {
        const dir = join(work.dir, label, host.name);
        const output = join(dir, "output");
        return timedRun(host.name, dfgetCommand(origin.url, output, join(dir, "dfdaemon.sock")), output, join(work.logs, `${label}-dfget-${host.name}.log`), wrapFor(host), timeoutMs);
      }),
    );
    const cpu = {
      seed: cpuSeconds(processTree(seedDaemon.process.pid)) - seedCpu0,
      peers: peerDaemons.reduce((sum, d, i) => sum + cpuSeconds(processTree(d.process.pid)) - (peersCpu0[i] ?? 0), 0),
      busy: cpuBusy(machine0, cpuSnapshot()),
      waiting: waitSeconds(cluster()) - wait0,
    };
    failures.push(...(await verify(label, fetches, sha)));
    const compressed = { pieces: 0, skipped: 0, raw: 0, wire: 0 };
    for (const host of [seedHost, ...peerHosts]) {
      const text = (await curlProbe(wrapFor(host))(`http://${host.ip}:${NAMESPACE_PORTS.daemon.metrics}/metrics`)) ?? "";
      compressed.pieces += sumMetric(text, "libellula_compression_pieces_total", /direction="upload".*decision="(compressed|cached)"|decision="(compressed|cached)".*direction="upload"/);
      compressed.skipped += sumMetric(text, "libellula_compression_pieces_total", /direction="upload".*decision="skipped|decision="skipped.*direction="upload"/);
      compressed.raw += sumMetric(text, "libellula_compression_raw_bytes_total", /direction="upload"/);
      compressed.wire += sumMetric(text, "libellula_compression_wire_bytes_total", /direction="upload"/);
    }
    for (const f of fetches) console.log(`  ${f.host.padEnd(4)} ${f.code === 0 ? formatSeconds(f.ms).padStart(9) : `exit ${f.code}`}  ${(size / 1e6 / (f.ms / 1000)).toFixed(1)} MB/s`);
    const taskTimes = peerDaemons.map((d) => lastTaskMs(d.process.logFile));
    const taskMs = taskTimes.some((t) => t === null) ? null : Math.max(...(taskTimes as number[]));
    return { file, setting, lastMs: failures.length > 0 ? null : Math.max(...fetches.map((f) => f.ms)), taskMs, cpu, compressed, failures };
  } finally {
    await Promise.all(daemons.map((daemon) => daemon.process.stop()));
    rmSync(join(work.dir, label), { recursive: true, force: true });
  }
}

/**
 * Seconds the threads of `pids` spent runnable but waiting for a core (the second field of each thread's
 * /proc/<pid>/task/<tid>/schedstat): how long the daemons were held back by a busy machine, not by their links.
 */
function waitSeconds(pids: number[]): number {
  let ns = 0;
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
      } catch {
        // exited
      }
    }
  }
  return ns / 1e9;
}

/** The durationMs of the last "Task finished" line in a daemon's log, or null when there is none. */
function lastTaskMs(logFile: string): number | null {
  let found: number | null = null;
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.includes('"Task finished"')) continue;
    const ms = Number((JSON.parse(line) as { durationMs?: unknown }).durationMs);
    if (Number.isFinite(ms)) found = ms;
  }
  return found;
}

async function verify(label: string, fetches: Fetch[], sha: string): Promise<string[]> {
  const failures: string[] = [];
  for (const fetch of fetches) {
    let problem: string | null = null;
    if (fetch.timedOut) problem = `stopped after ${formatSeconds(fetch.ms)}`;
    else if (fetch.code !== 0) problem = `exited with code ${fetch.code}`;
    else {
      const got = await sha256File(fetch.output);
      if (got !== sha) problem = got === null ? "left no output" : `output sha256 ${got} differs from ${sha}`;
    }
    if (problem) failures.push(`${label} on ${fetch.host}: ${problem}\n--- ${fetch.logFile} ---\n${tail(fetch.logFile, 15)}`);
  }
  return failures;
}

await runBench(BENCH, cleanup, main);
