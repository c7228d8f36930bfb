/** Starts the bench origin (origin-server.ts) as a child process and reads its counters. */
import { join } from "node:path";
import { startProcess, waitFor, type ManagedProcess } from "./proc.ts";

/** The origin's counters. */
export interface OriginStats {
  bytesSent: number;
  requests: number;
  getRequests: number;
  rangeRequests: number;
  headRequests: number;
  byClient: Record<string, number>;
  port: number;
  size: number;
}

/** A running origin. */
export interface Origin {
  /** URL of the served file. */
  readonly url: string;
  readonly process: ManagedProcess;
  stats(): Promise<OriginStats>;
  /** Zeroes the counters. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** How to start an origin. */
export interface OriginOptions {
  file: string;
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  urlPath?: string;
  controlSocket: string;
  logFile: string;
  /** Wraps the command, e.g. to run it in a namespace. */
  wrap?: (cmd: string[]) => string[];
}

const SERVER_SCRIPT = join(import.meta.dir, "origin-server.ts");
const START_TIMEOUT_MS = 15_000;

/** Starts the origin and waits until its control socket answers. */
export async function startOrigin(options: OriginOptions): Promise<Origin> {
  const urlPath = options.urlPath ?? "/blob";
  const cmd = [
    process.execPath, SERVER_SCRIPT,
    "--file", options.file,
    "--path", urlPath,
    "--hostname", options.hostname,
    "--port", String(options.port),
    "--control", options.controlSocket,
  ];
  const child = startProcess("origin", options.wrap ? options.wrap(cmd) : cmd, options.logFile);
  const control = async (path: string, method = "GET") => {
    const response = await fetch(`http://origin${path}`, { method, unix: options.controlSocket });
    if (!response.ok) throw new Error(`Origin control ${path} answered ${response.status}`);
    return response.json();
  };
  const stats = () => control("/stats") as Promise<OriginStats>;
  const first = await waitFor(
    async () => {
      if (child.exitCode() !== null) throw new Error(`The origin exited with code ${child.exitCode()} (log: ${options.logFile})`);
      return stats().catch(() => null);
    },
    START_TIMEOUT_MS,
    `The origin did not start within ${START_TIMEOUT_MS / 1000} s (log: ${options.logFile})`,
  );
  return {
    url: `http://${options.hostname}:${first.port}${urlPath}`,
    process: child,
    stats,
    async reset() {
      await control("/reset", "POST");
    },
    stop: () => child.stop(),
  };
}
