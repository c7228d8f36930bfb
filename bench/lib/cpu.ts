/** Machine-wide CPU use over an interval, from /proc/stat, to tell a slow daemon from a busy machine. */
import { readFileSync } from "node:fs";

/** Jiffies spent idle and in total since boot. */
export interface CpuSnapshot {
  idle: number;
  total: number;
}

/** Reads the aggregate `cpu` line of /proc/stat. */
export function cpuSnapshot(): CpuSnapshot {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal; idle and iowait are both "not busy".
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { idle, total };
}

/** Fraction of all cores busy between two snapshots (0–1). */
export function cpuBusy(from: CpuSnapshot, to: CpuSnapshot): number {
  const total = to.total - from.total;
  return total > 0 ? 1 - (to.idle - from.idle) / total : 0;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system) used so far by `pids`, from /proc/<pid>/stat; gone processes count 0. */
export function cpuSeconds(pids: number[]): number {
  const { user, system } = cpuSplit(pids);
  return user + system;
}

/** User and system CPU seconds used so far by the processes in `pids` (exited ones count as zero). */
export function cpuSplit(pids: number[]): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // After "(comm) ": state is field 3, utime field 14, stime field 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      user += Number(fields[11]);
      system += Number(fields[12]);
    } catch {
      // exited
    }
  }
  return { user: user / USER_HZ, system: system / USER_HZ };
}
