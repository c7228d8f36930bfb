/**
 * The compiled binary's entry: `libellula <command> [args]` runs dfdaemon, dfget, dfcache, scheduler or manager,
 * and so does the binary invoked under a command's name (a symlink or hard link called dfget runs dfget).
 * Every command answers `--version` with the version, the commit and the build date.
 */
import { basename } from "node:path";
import { versionLine } from "../common/version.ts";

type Main = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Main>> = {
  dfdaemon: async () => (await import("../peer/main.ts")).main,
  dfget: async () => (await import("./dfget.ts")).main,
  dfcache: async () => (await import("./dfcache.ts")).main,
  scheduler: async () => (await import("../scheduler/main.ts")).main,
  manager: async () => {
    // PGlite's wasm and data files, embedded in the binary, replace its lookup beside its module.
    const [{ main }, { setPgliteDefaults }, { embeddedPgliteOptions }] = await Promise.all([
      import("../manager/main.bun.ts"),
      import("../manager/db/database.ts"),
      import("../manager/db/pglite-assets.ts"),
    ]);
    setPgliteDefaults(embeddedPgliteOptions);
    return main;
  },
};

const USAGE = `Usage: libellula <command> [args]

Commands:
${Object.keys(COMMANDS)
  .map((name) => `  ${name}`)
  .join("\n")}

Run "libellula <command> --help" for a command's options and "libellula <command> --version" for the version
and commit. The binary also runs a command directly when it is invoked under that command's name (npm run build
writes the symlinks dfdaemon, dfget, dfcache, scheduler and manager beside it).`;

/** The command a binary named like one runs directly (`dfget` through a symlink), if any. */
export function commandOf(invokedAs: string): string | undefined {
  const name = basename(invokedAs).replace(/\.exe$/i, "");
  return Object.hasOwn(COMMANDS, name) ? name : undefined;
}

/** Whether a command's arguments ask for its version: `--version` anywhere before `--`, or `-V` first. */
export function asksVersion(command: string, args: string[]): boolean {
  const end = args.indexOf("--");
  const own = end === -1 ? args : args.slice(0, end);
  return own.includes("--version") || own[0] === "-V" || (command === "dfcache" && own[0] === "version");
}

/** Dispatches to a command; resolves with the exit code. */
export async function main(argv: string[], invokedAs = process.argv0 ?? ""): Promise<number> {
  const direct = commandOf(invokedAs);
  const [command, ...rest] = direct ? [direct, ...argv] : argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    console.log(versionLine("libellula"));
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!load) {
    console.error(`libellula: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (asksVersion(command, rest)) {
    console.log(versionLine(command));
    return 0;
  }
  return (await load())(rest);
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
