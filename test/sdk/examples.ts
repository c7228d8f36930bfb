/** Runs processes for the SDK tests without blocking the test's own event loop (its origin serves from it). */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/processes.ts";

/** What a finished process printed and how it ended. */
export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`). */
export function runProcess(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env }, ...(options.cwd ? { cwd: options.cwd } : {}) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `bun sdk/examples/<name> ...args` to completion, as a user would. */
export function runExample(name: string, args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return runProcess(join(ROOT, "node_modules", ".bin", "bun"), [join(ROOT, "sdk", "examples", name), ...args], { env });
}
