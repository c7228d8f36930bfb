import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configFromArgs, defaultDataDir } from "./cli.ts";

describe("configFromArgs()", () => {
  test("defaults: port 8080, gRPC 65003, PGlite in the home folder, 600,000 PBKDF2 iterations", () => {
    const config = configFromArgs([], {});
    expect(config.server).toMatchObject({ port: 8080, grpcPort: 65003 });
    expect(config.database.dataDir).toBe(defaultDataDir());
    expect(config.auth.pbkdf2Iterations).toBe(600_000);
    expect(config.auth.initialRootPassword).toBeUndefined();
  });

  test("flags beat the environment, which beats the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "libellula-cli-"));
    const file = join(dir, "manager.yaml");
    writeFileSync(file, "server:\n  port: 9000\n  grpcPort: 9001\ndatabase:\n  url: postgres://file/db\nkeepAlive:\n  intervalMs: 2000\n");
    const config = configFromArgs(["--config", file, "--port", "0", "--data-dir", "/data/m"], {
      DATABASE_URL: "postgres://env/db",
      LIBELLULA_INITIAL_ROOT_PASSWORD: "s3cret-root",
    });
    expect(config.server).toMatchObject({ port: 0, grpcPort: 9001 });
    expect(config.database).toMatchObject({ url: "postgres://env/db", dataDir: "/data/m" });
    expect(config.keepAlive.intervalMs).toBe(2000);
    expect(config.auth.initialRootPassword).toBe("s3cret-root");
    expect(configFromArgs(["--auth.pbkdf2Iterations", "700000"], {}).auth.pbkdf2Iterations).toBe(700_000);
  });

  test("bad values name the key", () => {
    expect(() => configFromArgs(["--port", "70000"], {})).toThrow('key "server.port"');
    expect(() => configFromArgs(["--auth.pbkdf2Iterations", "1000"], {})).toThrow('key "auth.pbkdf2Iterations"');
    expect(() => configFromArgs(["--server.nope", "1"], {})).toThrow('unknown key "server.nope"');
    expect(() => configFromArgs([], { LIBELLULA_INITIAL_ROOT_PASSWORD: "short" })).toThrow('key "auth.initialRootPassword"');
  });
});
