/** Runs an example of sdk/examples/ with Bun, as a user would. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/processes.ts";

/** Runs `bun sdk/examples/<name> ...args` to completion. */
export function runExample(name: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, "node_modules", ".bin", "bun"), [join(ROOT, "sdk", "examples", name), ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
