/** Running commands and long-lived processes, with logs to files and clean stops. */
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";

/** The outcome of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion and returns its exit code and output. */
export async function run(cmd: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<RunResult> {
  const child = Bun.spawn(cmd, { cwd: options.cwd, env: options.env ?? process.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Runs `cmd` and throws with its stderr when it exits non-zero. */
export async function mustRun(cmd: string[], options: { cwd?: string } = {}): Promise<string> {
  const result = await run(cmd, options);
  if (result.code !== 0) {
    throw new Error(`Command failed (exit ${result.code}): ${cmd.join(" ")}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ""}`);
  }
  return result.stdout;
}

/** A long-lived child process whose output goes to a log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<number>;
  /** Exit code once it has exited, else null. */
  exitCode(): number | null;
  /** CPU seconds (user + system) it used, once it has exited, else null. */
  cpuSeconds(): number | null;
  /** SIGTERM to its process group, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 5000;
/** Every process started here and not yet exited, for the last cleanup step. */
const live = new Set<ManagedProcess>();

/** Stops every process started with startProcess() that is still running. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(2000)));
}

/**
 * Starts `cmd` in its own process group (so a Ctrl-C reaches the bench first, which then stops the
 * children in order) with stdout and stderr appended to `logFile`.
 */
export function startProcess(name: string, cmd: string[], logFile: string, options: { cwd?: string; env?: Record<string, string | undefined> } = {}): ManagedProcess {
  const fd = openSync(logFile, "a");
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(cmd, { cwd: options.cwd, env: options.env ?? process.env, stdin: "ignore", stdout: fd, stderr: fd, detached: true });
  } finally {
    closeSync(fd);
  }
  let code: number | null = null;
  const exited = child.exited.then((c) => {
    live.delete(managed);
    return (code = c);
  });
  const managed: ManagedProcess = {
    name,
    pid: child.pid,
    logFile,
    exited,
    exitCode: () => code,
    cpuSeconds() {
      const usage = code === null ? undefined : child.resourceUsage();
      return usage === undefined ? null : Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6;
    },
    async stop(graceMs = DEFAULT_GRACE_MS) {
      if (code !== null) return;
      signalGroup(child.pid, "SIGTERM");
      const timer = new Promise<"timeout">((resolve) => setTimeout(resolve, graceMs, "timeout"));
      if ((await Promise.race([exited, timer])) === "timeout") {
        signalGroup(child.pid, "SIGKILL");
        await exited;
      }
    },
  };
  live.add(managed);
  return managed;
}

/** Sends `signal` to the process group led by `pid`, then to `pid` itself; ignores ones already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

/** Whether a process with this id exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The command line of `pid` joined by spaces, or "" when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** `pid` and all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command name: state ppid ...
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

/** A field of /proc/<pid>/status in bytes (`VmHWM`, `VmRSS`), or null. */
export function statusBytes(pid: number, field: "VmHWM" | "VmRSS"): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Peak resident set size of the process behind `pid`: the largest VmHWM in its process tree, so a
 * wrapper script that starts the real runtime as a child still reports the runtime's peak.
 */
export function peakRss(pid: number): number | null {
  let best: number | null = null;
  for (const member of processTree(pid)) {
    const value = statusBytes(member, "VmHWM");
    if (value !== null && (best === null || value > best)) best = value;
  }
  return best;
}

/** The last `lines` lines of a log file, or a note that it is missing. */
export function tail(path: string, lines = 30): string {
  if (!existsSync(path)) return `(no log at ${path})`;
  const text = readFileSync(path, "utf8").trimEnd();
  return text.split("\n").slice(-lines).join("\n") || "(log is empty)";
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns a value, or throws `message` after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | null | undefined> | T | null | undefined, timeoutMs: number, message: string, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(message);
    await sleep(intervalMs);
  }
}
