/** The start every bench run shares: one run at a time, leftovers of crashed runs removed, folders and cleanup. */
import { rmSync } from "node:fs";
import type { Cleanup } from "./cleanup.ts";
import { stopAllProcesses } from "./proc.ts";
import { ensureTools } from "./tools.ts";
import { createWorkDir, liveRun, removeStaleRuns, type WorkDir } from "./workdir.ts";

/** Options of {@link startRun}. */
export interface RunOptions {
  /** The bench's name, as in its folder (`p2p`, `throughput`, …). */
  bench: string;
  cleanup: Cleanup;
  /** Commands the bench runs, installed if missing. */
  tools: string[];
  /** Keep the work folder and logs for a look around (`--keep`). */
  keep?: boolean;
  /** Leave the processes running at the end too (bench/p2p's `--keep`, with its namespaces). */
  keepProcesses?: boolean;
  /** Keep the logs even after a clean run (`--keep-logs`). */
  keepLogs?: boolean;
  /** Only remove what earlier runs left, then stop (`--clean`). */
  clean?: boolean;
  /** More leftovers to remove first, e.g. network namespaces; returns what was removed. */
  removeLeftovers?: () => Promise<string[]>;
}

/** A started run: its folders, and `succeeded()` to call once every measurement passed (the logs then go). */
export interface Run {
  work: WorkDir;
  succeeded(): void;
}

/**
 * Refuses to run beside another run of the same bench, removes what crashed runs left, and (unless `clean`)
 * creates the run's folders with cleanup steps: the work folder goes unless kept, the logs are kept when the run
 * failed or when asked, and the processes are stopped unless asked not to. Returns undefined after a `clean`.
 */
export async function startRun(options: RunOptions): Promise<Run | undefined> {
  const { bench, cleanup } = options;
  await ensureTools(options.tools);
  const other = liveRun(bench);
  if (other !== null) throw new Error(`Another bench/${bench} run is in progress (pid ${other}); wait for it or stop it first`);
  const leftovers = [...((await options.removeLeftovers?.()) ?? []), ...(await removeStaleRuns(bench))];
  if (leftovers.length > 0) console.log(`Removed leftovers of an earlier run: ${leftovers.join(", ")}`);
  if (options.clean) return undefined;

  cleanup.handleSignals();
  const work = createWorkDir(bench);
  let failed = true;
  cleanup.add("work dir", () => {
    if (options.keep) return console.log(`Kept files in ${work.dir}`);
    rmSync(work.dir, { recursive: true, force: true });
  });
  cleanup.add("logs", () => {
    if (failed || options.keep || options.keepLogs) console.error(`Logs: ${work.logs}`);
    else rmSync(work.logs, { recursive: true, force: true });
  });
  cleanup.add("processes", () => (options.keepProcesses ? undefined : stopAllProcesses()));
  return { work, succeeded: () => void (failed = false) };
}

/**
 * Runs a bench's `main` and exits with its code: 1 when it throws (the error printed unless a signal stopped the
 * run), after the cleanup steps ran either way.
 */
export async function runBench(bench: string, cleanup: Cleanup, main: () => Promise<number>): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    if (!cleanup.interrupted) console.error(`\nbench/${bench} failed: ${(error as Error).message}`);
  } finally {
    await cleanup.run();
  }
  process.exit(code);
}
