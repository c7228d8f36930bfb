/** Per-run temporary folders, with removal of what a crashed earlier run left behind. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandLine, isAlive, signalGroup, sleep } from "./proc.ts";

const OWNER_FILE = "owner.pid";
const PIDS_FILE = "children.pids";

/** One run's folders: `dir` for large data (always removed), `logs` kept when the run fails. */
export interface WorkDir {
  readonly dir: string;
  readonly logs: string;
  /** Records a child's pid so a later run can stop it if this one dies without cleaning up. */
  recordPid(pid: number): void;
}

/** Whether another live run of `bench` holds its lock; returns that run's pid or null. */
export function liveRun(bench: string): number | null {
  for (const dir of runDirs(bench)) {
    const owner = ownerOf(dir);
    if (owner !== null && owner !== process.pid && isAlive(owner) && commandLine(owner).includes(bench)) return owner;
  }
  return null;
}

/**
 * Removes the folders of earlier runs of `bench` whose owner is gone, first stopping the children
 * they recorded (only those whose command line still names that folder, so a reused pid is left alone).
 */
export async function removeStaleRuns(bench: string): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of runDirs(bench)) {
    const owner = ownerOf(dir);
    if (owner !== null && isAlive(owner) && commandLine(owner).includes(bench)) continue;
    const pids = readPids(dir).filter((pid) => isAlive(pid) && commandLine(pid).includes(dir));
    for (const pid of pids) signalGroup(pid, "SIGTERM");
    if (pids.length > 0) await sleep(1000);
    for (const pid of pids) if (isAlive(pid)) signalGroup(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Creates this run's folders under the system temp dir. */
export function createWorkDir(bench: string): WorkDir {
  const dir = mkdtempSync(join(tmpdir(), `${prefix(bench)}`));
  writeFileSync(join(dir, OWNER_FILE), `${process.pid}\n`);
  const logs = mkdtempSync(join(tmpdir(), `libellula-bench-logs-${bench}-`));
  return {
    dir,
    logs,
    recordPid(pid) {
      writeFileSync(join(dir, PIDS_FILE), `${pid}\n`, { flag: "a" });
    },
  };
}

/** Makes `path` (and parents) exist and returns it. */
export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

function prefix(bench: string): string {
  return `libellula-bench-${bench}-`;
}

function runDirs(bench: string): string[] {
  return readdirSync(tmpdir())
    .filter((name) => name.startsWith(prefix(bench)))
    .map((name) => join(tmpdir(), name));
}

function ownerOf(dir: string): number | null {
  const file = join(dir, OWNER_FILE);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function readPids(dir: string): number[] {
  const file = join(dir, PIDS_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
}
