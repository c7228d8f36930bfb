/**
 * deploy/systemd: every unit passes `systemd-analyze verify` (run against a scratch root that holds the
 * system's units and the binary the unit starts), carries its hardening, can write where its config stores
 * things, and its ExecStartPre check passes on the example config beside it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ROOT, tempDir } from "../helpers/processes.ts";
import { DAEMONS, run, validateConfig, type DaemonName } from "./support.ts";

const SYSTEMD_ANALYZE = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((path) => existsSync(path));
const SYSTEM_UNITS = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((path) => existsSync(join(path, "sysinit.target")));
const UNITS_DIR = join(ROOT, "deploy", "systemd");
const UNITS = readdirSync(UNITS_DIR).filter((name) => name.endsWith(".service")).sort();
/** Where the units expect the binary. */
const BINARY = "/usr/local/bin/libellula";

if (!SYSTEMD_ANALYZE) console.warn("systemd.test.ts: systemd-analyze is not installed; the `systemd-analyze verify` checks are skipped");

/** A unit file's directives, section → key → values (a key may repeat). */
type Unit = Record<string, Record<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || !section) throw new Error(`Not a directive: "${line}"`);
    ((unit[section]![line.slice(0, eq)] ??= [])).push(line.slice(eq + 1));
  }
  return unit;
}

function directive(unit: Unit, key: string): string | undefined {
  const values = unit.Service?.[key];
  return values?.[values.length - 1];
}

/** A scratch root for `systemd-analyze --root`: the system's units and a stand-in for the binary. */
function scratchRoot(): string {
  const root = tempDir("libellula-systemd-root-");
  cpSync(SYSTEM_UNITS!, join(root, "usr/lib/systemd/system"), { recursive: true });
  mkdirSync(join(root, dirname(BINARY)), { recursive: true });
  writeFileSync(join(root, BINARY), `#!/bin/sh\nexec ${join(ROOT, "bin", "libellula")} "$@"\n`);
  chmodSync(join(root, BINARY), 0o755);
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  return root;
}

/** `systemd-analyze verify` of one unit text placed in the scratch root; any complaint is returned. */
async function verify(root: string, name: string, text: string): Promise<{ code: number | null; output: string }> {
  writeFileSync(join(root, "etc/systemd/system", name), text);
  const result = await run(SYSTEMD_ANALYZE!, ["verify", "--man=no", `--root=${root}`, `/etc/systemd/system/${name}`], { timeoutMs: 60_000 });
  return { code: result.code, output: (result.stdout + result.stderr).trim() };
}

/** The command line of ExecStartPre/ExecStart split into words (the units quote nothing). */
function words(command: string): string[] {
  return command.split(/\s+/).filter(Boolean);
}

let root = "";
beforeAll(() => {
  if (SYSTEMD_ANALYZE && SYSTEM_UNITS) root = scratchRoot();
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test("deploy/systemd holds units for the dfdaemon, seed peer, scheduler and manager", () => {
  expect(UNITS).toEqual(["libellula-dfdaemon.service", "libellula-manager.service", "libellula-scheduler.service", "libellula-seed-peer.service"]);
});

for (const name of UNITS) {
  describe(name, () => {
    const text = readFileSync(join(UNITS_DIR, name), "utf8");
    const unit = parseUnit(text);

    test.skipIf(!SYSTEMD_ANALYZE)("passes systemd-analyze verify without a complaint", async () => {
      const result = await verify(root, name, text);
      expect(result.output).toBe("");
      expect(result.code).toBe(0);
    }, 90_000);

    test("is hardened: read-only system, no privileges or capabilities, private /tmp, no home, IP and unix sockets only", () => {
      const expected: Record<string, string> = {
        ProtectSystem: "strict",
        ProtectHome: "yes",
        PrivateTmp: "yes",
        NoNewPrivileges: "yes",
        CapabilityBoundingSet: "",
        AmbientCapabilities: "",
        RestrictSUIDSGID: "yes",
        ProtectKernelTunables: "yes",
        ProtectKernelModules: "yes",
        ProtectControlGroups: "yes",
        SystemCallArchitectures: "native",
        Restart: "on-failure",
        Type: "simple",
      };
      for (const [key, value] of Object.entries(expected)) expect(`${key}=${directive(unit, key)}`).toBe(`${key}=${value}`);
      const families = words(directive(unit, "RestrictAddressFamilies") ?? "");
      expect(families).toEqual(expect.arrayContaining(["AF_UNIX", "AF_INET", "AF_INET6"]));
      expect(families.every((f) => ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"].includes(f))).toBe(true);
      expect(Number(directive(unit, "LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
      expect(directive(unit, "TimeoutStopSec")).toMatch(/^\d+s$/);
      expect(directive(unit, "User")).toBe("libellula");
      expect(unit.Install?.WantedBy).toEqual(["multi-user.target"]);
    });

    test("checks its config before starting, and the example config passes that check and can write where it stores", async () => {
      const start = words(directive(unit, "ExecStart")!);
      const check = words(directive(unit, "ExecStartPre")!);
      expect(check).toEqual([...start, "--validate-config"]);
      expect(start[0]).toBe(BINARY);
      const daemon = start[1] as DaemonName;
      expect(DAEMONS).toContain(daemon);
      const configPath = start[start.indexOf("--config") + 1]!;
      expect(dirname(configPath)).toBe("/etc/libellula");
      const example = join(UNITS_DIR, configPath.slice("/etc/libellula/".length));
      const args = start.slice(2).map((word) => (word === configPath ? example : word));
      const result = await validateConfig(daemon, args);
      expect(`${result.stderr}${result.stdout}`.trim()).toBe(`config OK: ${example}`);
      expect(result.code).toBe(0);

      // ProtectSystem=strict leaves only ReadWritePaths (and the State/RuntimeDirectory) writable.
      const writable = words(directive(unit, "ReadWritePaths") ?? "").map((p) => p.replace(/^\/var\/run\//, "/run/"));
      const config = parseYaml(readFileSync(example, "utf8")) as Record<string, any>;
      const written: string[] =
        daemon === "dfdaemon"
          ? [config.storage.dir, dirname(config.download.server.socketPath)]
          : daemon === "manager"
            ? [config.database.dataDir]
            : [];
      for (const path of written) {
        const normalized = path.replace(/^\/var\/run\//, "/run/");
        expect(`${path} writable: ${writable.some((w) => normalized === w || normalized.startsWith(`${w}/`))}`).toBe(`${path} writable: true`);
      }
      for (const key of ["StateDirectory", "RuntimeDirectory"]) {
        const base = key === "StateDirectory" ? "/var/lib" : "/run";
        for (const dir of words(directive(unit, key) ?? "")) expect(writable).toContain(`${base}/${dir}`);
      }
    }, 60_000);
  });
}

describe.skipIf(!SYSTEMD_ANALYZE)("the verify check", () => {
  test("catches a bad value, an unknown directive and a missing binary", async () => {
    const good = readFileSync(join(UNITS_DIR, UNITS[0]!), "utf8");
    const badValue = await verify(root, "libellula-bad-value.service", good.replace("ProtectSystem=strict", "ProtectSystem=bogus"));
    expect(badValue.output).toContain("bogus");
    const unknown = await verify(root, "libellula-unknown.service", good.replace("[Service]", "[Service]\nFrobnicate=yes"));
    expect(unknown.output).toContain("Frobnicate");
    const missing = await verify(root, "libellula-missing.service", good.replaceAll(BINARY, "/usr/local/bin/libellula-absent"));
    expect(missing.output).toContain("libellula-absent");
    expect(missing.code).not.toBe(0);
  }, 120_000);

  test("rates every unit's exposure as OK or better (systemd-analyze security)", async () => {
    for (const name of UNITS) {
      copyFileSync(join(UNITS_DIR, name), join(root, "etc/systemd/system", name));
      const result = await run(SYSTEMD_ANALYZE!, ["security", "--offline=true", `--root=${root}`, `/etc/systemd/system/${name}`], { timeoutMs: 60_000 });
      const level = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(result.stdout);
      expect(`${name}: ${level?.[2]}`).toMatch(/: (OK|SAFE|PERFECT)$/);
    }
  }, 120_000);
});
