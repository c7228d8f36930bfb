/** The single binary's entry: `libellula <command> [args]` runs dfdaemon, dfget, dfcache, scheduler or manager. */
import { basename } from "node:path";
import { VERSION } from "../common/version.ts";

type Main = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Main>> = {
  dfdaemon: async () => (await import("../peer/main.ts")).main,
  dfget: async () => (await import("./dfget.ts")).main,
  dfcache: async () => (await import("./dfcache.ts")).main,
  scheduler: async () => (await import("../scheduler/main.ts")).main,
  manager: async () => (await import("../manager/main.bun.ts")).main,
};

const USAGE = `Usage: libellula <command> [args]

Commands:
${Object.keys(COMMANDS)
  .map((name) => `  ${name}`)
  .join("\n")}

Run "libellula <command> --help" for a command's options. The binary also runs a command directly when
it is invoked under that command's name (for example through a symlink called dfget).`;

/** Dispatches to a command; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const invokedAs = basename(process.argv0 ?? "");
  const direct = COMMANDS[invokedAs] ? invokedAs : undefined;
  const [command, ...rest] = direct ? [direct, ...argv] : argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    console.log(`libellula ${VERSION}`);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    console.error(`libellula: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  return (await load())(rest);
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
