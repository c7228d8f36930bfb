/** The manager's command line: flags and environment over the YAML config. */
import { homedir } from "node:os";
import { join } from "node:path";
import { ConfigError, configOverrides, flag, loadConfig, parseArgs } from "../common/config.ts";
import { managerConfigSchema, type ManagerConfig } from "./config.ts";

/** Usage text. */
export const USAGE = `Usage: manager [--port N] [--grpc-port N] [--host ADDR] [--data-dir DIR] [--config FILE] [--key.path value]

  --port N          REST, Connect and gRPC-web port (default 8080; 0 picks a free one)
  --grpc-port N     gRPC over HTTP/2 port, Bun only (default 65003; 0 picks a free one)
  --host ADDR       Address to listen on (default 0.0.0.0)
  --data-dir DIR    Embedded PGlite data directory (default ~/.libellula/manager)
  --config FILE     YAML config file
  --version, -V     Print the version and exit
  --validate-config Check the config file, environment and flags, print "config OK: FILE" and exit
                    without starting anything or opening the database
Environment: DATABASE_URL (PostgreSQL instead of PGlite), LIBELLULA_INITIAL_ROOT_PASSWORD,
  LIBELLULA_JWT_KEY (HS256 key shared by instances; else one is generated and kept in the database)`;

/** The default PGlite data directory. */
export function defaultDataDir(): string {
  return join(homedir(), ".libellula", "manager");
}

/** Flags of the manager's own besides dotted config keys. */
const FLAGS = ["port", "grpc-port", "host", "data-dir", "config", "help", "validate-config", "version"];

/** Reads the config from arguments and environment; throws ConfigError on an unknown flag or a bad value. */
export function configFromArgs(argv: readonly string[], env: Record<string, string | undefined>): ManagerConfig {
  const args = parseArgs(argv, ["help", "validate-config"], { h: "help" });
  const unknownFlag = Object.keys(args.flags).find((name) => !name.includes(".") && !FLAGS.includes(name));
  const unknown = unknownFlag !== undefined ? `--${unknownFlag}` : args.positionals[0];
  if (unknown !== undefined) throw new ConfigError(`Unknown argument "${unknown}"`);
  // Environment first, then flags, both over the file.
  const overrides: Record<string, string> = {};
  const text = (value: string) => JSON.stringify(value);
  if (env.DATABASE_URL) overrides["database.url"] = text(env.DATABASE_URL);
  const rootPassword = env.LIBELLULA_INITIAL_ROOT_PASSWORD ?? env.DRAGONFLY_INITIAL_ROOT_PASSWORD;
  if (rootPassword) overrides["auth.initialRootPassword"] = text(rootPassword);
  if (env.LIBELLULA_JWT_KEY) overrides["auth.jwt.key"] = text(env.LIBELLULA_JWT_KEY);
  Object.assign(overrides, configOverrides(args));
  const port = flag(args, "port");
  const grpcPort = flag(args, "grpc-port");
  const host = flag(args, "host");
  const dataDir = flag(args, "data-dir");
  if (port !== undefined) overrides["server.port"] = port;
  if (grpcPort !== undefined) overrides["server.grpcPort"] = grpcPort;
  if (host !== undefined) overrides["server.host"] = text(host);
  if (dataDir !== undefined) overrides["database.dataDir"] = text(dataDir);
  const config = loadConfig(managerConfigSchema, { file: flag(args, "config"), overrides });
  if (!config.database.url && !config.database.dataDir) config.database.dataDir = defaultDataDir();
  return config;
}

/** The `--config` file named in the arguments, if any. */
export function configFile(argv: readonly string[]): string | undefined {
  return flag(parseArgs(argv, ["help", "validate-config"], { h: "help" }), "config");
}

/** Whether the arguments ask only to check the config. */
export function wantsValidation(argv: readonly string[]): boolean {
  return argv.includes("--validate-config");
}

/** Whether the arguments ask for the version. */
export function wantsVersion(argv: readonly string[]): boolean {
  return argv.includes("--version") || argv[0] === "-V";
}

/** Whether the arguments ask for help. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}
