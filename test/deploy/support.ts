/** Runs the daemons' own `--validate-config` on deployment configs, the way an operator would. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/processes.ts";

/** The daemons with a config file. */
export const DAEMONS = ["dfdaemon", "scheduler", "manager"] as const;
/** One of DAEMONS. */
export type DaemonName = (typeof DAEMONS)[number];

/** What a finished command printed. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`), collecting its output; `env` replaces the environment. */
export function run(command: string, args: readonly string[], options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `bin/<daemon> ...args --validate-config` with `env` over the runner's environment minus its database and credentials. */
export function validateConfig(daemon: DaemonName, args: readonly string[], env: Record<string, string> = {}): Promise<CommandResult> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The runner's own DATABASE_URL or root password must not leak into what is being checked.
    if (value !== undefined && !/^(DATABASE_URL|LIBELLULA_|DRAGONFLY_)/.test(key)) clean[key] = value;
  }
  return run(join(ROOT, "bin", daemon), [...args, "--validate-config"], { env: { ...clean, ...env } });
}
