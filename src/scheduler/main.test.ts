import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { within } from "./testing.ts";

const BIN = join(import.meta.dir, "../../bin/scheduler");

test("bin/scheduler logs its address, serves /healthy and /metrics, and stops cleanly on SIGTERM", async () => {
  const child = spawn(BIN, ["--server.port", "0", "--server.listenIP", "127.0.0.1", "--metrics.server.port", "0", "--metrics.server.ip", "127.0.0.1"], {
    cwd: "/",
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    let stderr = "";
    const listening = await within(
      new Promise<{ address: string; ops: string }>((resolve) => {
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
          const line = stderr.split("\n").find((l) => l.includes('"Scheduler listening"'));
          if (line) resolve(JSON.parse(line) as { address: string; ops: string });
        });
      }),
      15_000,
      "the listening line",
    );
    expect(listening.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const healthy = await fetch(`http://${listening.ops}/healthy`);
    expect(healthy.status).toBe(200);
    const metrics = await (await fetch(`http://${listening.ops}/metrics`)).text();
    expect(metrics).toContain("libellula_scheduler_peers 0");
    expect(metrics).toContain("libellula_scheduler_hosts 0");
    expect(metrics).toContain("# TYPE libellula_scheduler_decisions_total counter");
    child.kill("SIGTERM");
    expect(await within(exited, 10_000, "exit")).toBe(0);
  } finally {
    child.kill("SIGKILL");
  }
});

test("bin/scheduler rejects a bad config value naming the key", async () => {
  const child = spawn(BIN, ["--scheduler.retryLimit", "-1"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await within(new Promise<number | null>((resolve) => child.on("exit", resolve)), 15_000, "exit");
  expect(code).toBe(2);
  expect(stderr).toContain('key "scheduler.retryLimit"');
});
