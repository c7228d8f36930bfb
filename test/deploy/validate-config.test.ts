/** `--validate-config` of dfdaemon, scheduler and manager: checks, reports and exits without starting anything. */
import { afterAll, expect, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir } from "../helpers/processes.ts";
import { validateConfig } from "./support.ts";

const scratch = tempDir("libellula-validate-");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test("a valid config prints config OK and creates no storage, socket or database", async () => {
  const storage = join(scratch, "storage");
  const socket = join(scratch, "run", "dfdaemon.sock");
  const dataDir = join(scratch, "manager");
  const port = await freePort();
  const file = join(scratch, "dfdaemon.yaml");
  writeFileSync(file, `storage:\n  dir: ${storage}\ndownload:\n  server:\n    socketPath: ${socket}\nhealth:\n  server:\n    port: ${port}\n`);

  const dfdaemon = await validateConfig("dfdaemon", ["--config", file]);
  expect(dfdaemon.stdout.trim()).toBe(`config OK: ${file}`);
  expect(dfdaemon.code).toBe(0);
  const scheduler = await validateConfig("scheduler", ["--server.port", String(port)]);
  expect(scheduler.stdout.trim()).toBe("config OK: (defaults and flags)");
  expect(scheduler.code).toBe(0);
  const manager = await validateConfig("manager", ["--data-dir", dataDir, "--port", String(port)]);
  expect(manager.stdout.trim()).toBe("config OK: (defaults, environment and flags)");
  expect(manager.code).toBe(0);

  expect(existsSync(storage)).toBe(false);
  expect(existsSync(join(scratch, "run"))).toBe(false);
  expect(existsSync(dataDir)).toBe(false);
}, 120_000);

test("bad flags and values exit non-zero with the key or flag named", async () => {
  const cases: { daemon: "dfdaemon" | "scheduler" | "manager"; args: string[]; env?: Record<string, string>; expected: string }[] = [
    { daemon: "dfdaemon", args: ["--upload.server.port", "70000"], expected: 'key "upload.server.port"' },
    { daemon: "dfdaemon", args: ["--bogus", "1"], expected: 'unknown argument "bogus"' },
    { daemon: "scheduler", args: ["--job.lease", "0s"], expected: 'key "job.lease"' },
    { daemon: "scheduler", args: ["--bogus", "1"], expected: 'unknown flag "--bogus"' },
    { daemon: "manager", args: ["--prot", "8080"], expected: 'Unknown argument "--prot"' },
    { daemon: "manager", args: [], env: { LIBELLULA_INITIAL_ROOT_PASSWORD: "short" }, expected: 'key "auth.initialRootPassword"' },
    { daemon: "manager", args: ["--config", join(scratch, "absent.yaml")], expected: `Cannot read config "${join(scratch, "absent.yaml")}"` },
  ];
  for (const item of cases) {
    const result = await validateConfig(item.daemon, item.args, item.env);
    expect(`${item.daemon} ${item.args.join(" ")}: ${result.stderr}`).toContain(item.expected);
    expect(result.stdout).not.toContain("config OK");
    expect(result.code).toBe(2);
  }
}, 120_000);
