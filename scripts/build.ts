/**
 * `npm run build`: one self-contained executable, dist/libellula, that runs every command (`libellula dfget …`),
 * and symlinks dfdaemon, dfget, dfcache, scheduler and manager beside it that run their command directly. The
 * binary needs no Node, Bun or node_modules: the console, the migrations and PGlite's files are inside it.
 *
 *   bun scripts/build.ts [--outdir DIR]
 *
 * The commit and build date that `--version` prints come from git (LIBELLULA_BUILD_COMMIT overrides it; "unknown"
 * without git) and the clock (SOURCE_DATE_EPOCH overrides it).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

const root = join(import.meta.dir, "..");
/** The commands that get a symlink to the binary. */
export const COMMAND_LINKS = ["dfdaemon", "dfget", "dfcache", "scheduler", "manager"] as const;
const BINARY = "libellula";

function git(...args: string[]): string | undefined {
  const result = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** The commit to embed: LIBELLULA_BUILD_COMMIT, else git's HEAD with "-dirty" for uncommitted changes, else "unknown". */
export function buildCommit(): string {
  const given = process.env.LIBELLULA_BUILD_COMMIT;
  if (given) return given;
  const head = git("rev-parse", "--short=12", "HEAD");
  if (!head) return "unknown";
  const changes = git("status", "--porcelain", "--untracked-files=no");
  return changes ? `${head}-dirty` : head;
}

/** The build date to embed, to the second: SOURCE_DATE_EPOCH (reproducible builds) or now. */
function buildDate(): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new Error(`Invalid SOURCE_DATE_EPOCH "${epoch}": want seconds since 1970`);
  const date = epoch === undefined ? new Date() : new Date(Number(epoch) * 1000);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function parseOutdir(argv: string[]): string {
  if (argv.length === 0) return join(root, "dist");
  if (argv.length === 2 && argv[0] === "--outdir" && argv[1]) return resolve(argv[1]);
  throw new Error(`Unknown arguments "${argv.join(" ")}": usage: bun scripts/build.ts [--outdir DIR]`);
}

function main(argv: string[]): number {
  let outdir: string;
  let commit: string;
  let date: string;
  try {
    outdir = parseOutdir(argv);
    commit = buildCommit();
    date = buildDate();
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, BINARY);
  // Bun writes source maps beside the executable, one per chunk; they are inside it too (stack traces name the
  // .ts files), so the build happens in a staging folder and only the executable is kept.
  const staging = mkdtempSync(join(outdir, ".build-"));
  try {
    const result = spawnSync(
      join(root, "node_modules", ".bin", "bun"),
      [
        "build", "--compile", "--minify", "--sourcemap",
        // Bytecode, and a chunk per command loaded on demand: `dfget` parses none of the manager's code.
        "--bytecode", "--format=esm", "--splitting",
        "--define", `LIBELLULA_BUILD_COMMIT=${JSON.stringify(commit)}`,
        "--define", `LIBELLULA_BUILD_DATE=${JSON.stringify(date)}`,
        join(root, "src", "cli", "libellula.ts"), "--outfile", join(staging, BINARY),
      ],
      { cwd: root, stdio: "inherit" },
    );
    if (result.status !== 0) return result.status ?? 1;
    renameSync(join(staging, BINARY), outfile);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  for (const command of COMMAND_LINKS) {
    const link = join(outdir, command);
    rmSync(link, { force: true });
    symlinkSync(BINARY, link);
  }
  console.log(`Built ${outfile} (commit ${commit}, ${date}) and the symlinks ${COMMAND_LINKS.join(", ")} beside it`);
  return 0;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
