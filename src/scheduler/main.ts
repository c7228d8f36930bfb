/** The scheduler's entry point: `scheduler [--config FILE] [--dotted.key value …]`. */
import { configOverrides, flag, parseArgs } from "../common/config.ts";
import { errorMessage } from "../common/errors.ts";
import { runServices, type Service } from "../common/lifecycle.ts";
import { createLogger, setLogLevel } from "../common/log.ts";
import { versionLine } from "../common/version.ts";
import { Registry, opsHandler } from "../common/metrics.ts";
import { advertisedIdentity, loadSchedulerConfig } from "./config.ts";
import { createScheduler } from "./scheduler.ts";

const USAGE = `Usage: scheduler [--config FILE] [--KEY VALUE ...]

Runs the Libellula scheduler (scheduler.v2.Scheduler over gRPC).

Options:
  --config FILE          YAML config with Dragonfly's camelCase keys
  --KEY VALUE            any config key, e.g. --server.port 9000 --manager.addr 127.0.0.1:65003
  --validate-config      check the config file and flags, print "config OK: FILE" and exit without starting
  -V, --version          print the version
  -h, --help             this help`;

/** Runs the scheduler until SIGINT/SIGTERM; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ["help", "validate-config", "version"], { h: "help", V: "version" });
  if (flag(args, "version")) {
    console.log(versionLine("scheduler"));
    return 0;
  }
  if (flag(args, "help")) {
    console.log(USAGE);
    return 0;
  }
  if (args.positionals.length > 0) {
    console.error(`scheduler: unexpected argument "${args.positionals[0]}"\n\n${USAGE}`);
    return 2;
  }
  const unknown = Object.keys(args.flags).filter((name) => !["config", "validate-config"].includes(name) && !name.includes("."));
  if (unknown.length > 0) {
    console.error(`scheduler: unknown flag "--${unknown[0]}"\n\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadSchedulerConfig({ file: flag(args, "config"), overrides: configOverrides(args) });
  } catch (error) {
    console.error(`scheduler: ${errorMessage(error)}`);
    return 2;
  }
  if (flag(args, "validate-config")) {
    console.log(`config OK: ${flag(args, "config") ?? "(defaults and flags)"}`);
    return 0;
  }
  setLogLevel(config.log.level);
  const log = createLogger({ component: "scheduler" });
  const registry = new Registry();
  const scheduler = createScheduler(config, { log, registry });
  let ops: ReturnType<typeof Bun.serve> | undefined;
  const opsService: Service = {
    name: "ops",
    async start() {
      if (!config.metrics.enable) return;
      const handler = opsHandler(registry);
      ops = Bun.serve({ hostname: config.metrics.server.ip, port: config.metrics.server.port, fetch: handler });
    },
    async stop() {
      await ops?.stop(true);
    },
  };
  const announce: Service = {
    name: "announce",
    async start() {
      log.info("Scheduler listening", {
        address: `${config.server.listenIP}:${scheduler.port}`,
        advertise: `${advertisedIdentity(config).ip}:${scheduler.port}`,
        ops: ops ? `${config.metrics.server.ip}:${ops.port}` : undefined,
        manager: config.manager.addr,
      });
    },
    async stop() {},
  };
  return runServices([scheduler, opsService, announce], log);
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
