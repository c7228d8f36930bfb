/** Real daemon processes for end-to-end tests: spawned from bin/, ready when they say so, killed at the end. */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository root. */
export const ROOT = join(import.meta.dir, "..", "..");

/** A spawned daemon. */
export interface Daemon extends AsyncDisposable {
  name: string;
  process: ChildProcess;
  /** Everything it logged. */
  output(): string;
  /** The fields of its "ready" log line. */
  ready: Record<string, unknown>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A fresh temporary directory. */
export function tempDir(prefix = "libellula-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Spawns `bin/<name>` and waits for a JSON log line whose `msg` matches `readyMessage`. */
export async function spawnDaemon(name: string, args: string[], readyMessage: RegExp, timeoutMs = 20_000): Promise<Daemon> {
  const child = spawn(join(ROOT, "bin", name), args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  let output = "";
  let ready: Record<string, unknown> | undefined;
  let onReady: (() => void) | undefined;
  const scan = (chunk: Buffer) => {
    output += chunk.toString();
    if (ready) return;
    for (const line of output.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (typeof entry.msg === "string" && readyMessage.test(entry.msg)) {
          ready = entry;
          onReady?.();
          return;
        }
      } catch {
        // Partial line; the next chunk completes it.
      }
    }
  };
  child.stdout!.on("data", scan);
  child.stderr!.on("data", scan);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    if (ready) onReady();
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
  }).catch((error) => {
    child.kill("SIGKILL");
    throw error;
  });
  const kill = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { name, process: child, output: () => output, ready: ready!, kill, [Symbol.asyncDispose]: async () => void (await kill()) };
}

/** Runs a CLI from bin/ to completion. */
export function runCli(name: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, "bin", name), args, { stdio: ["ignore", "pipe", "pipe"] });
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

/** The sha256 of a file. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Reads a Prometheus counter's value from a metrics endpoint. */
export async function metric(port: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
