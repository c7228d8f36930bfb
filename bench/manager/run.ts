/**
 * Requests per second of the manager's two hottest reads, ListSchedulers (Connect, JSON) and
 * GET /api/v1/scheduler-clusters (JWT), on Bun with PGlite and with PostgreSQL, each against a bare Hono
 * handler returning the same JSON in the same run. The ratio manager/bare is the figure.
 *
 *   bun bench/manager/run.ts [--seconds 5] [--concurrency 32] [--rounds 2] [--postgres-first]
 *                            [--postgres postgres://postgres@127.0.0.1:5432/test]
 *
 * Load comes from ApacheBench (`ab`, keep-alive), which runs on the same machine as the servers.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

const root = join(import.meta.dir, "..", "..");

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const SECONDS = Number(option("seconds", "5"));
const CONCURRENCY = Number(option("concurrency", "32"));
const ROUNDS = Number(option("rounds", "2"));
const POSTGRES = option("postgres", process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
/** Clusters and schedulers the manager holds while measured. */
const CLUSTERS = 5;
const SCHEDULERS_PER_CLUSTER = 3;

if (spawnSync("ab", ["-V"]).status !== 0) throw new Error('ApacheBench ("ab", Debian package apache2-utils) is needed');

const work = mkdtempSync(join(tmpdir(), "libellula-bench-manager-"));
const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** Starts a process and resolves with the first JSON line carrying a port (stdout or stderr). */
function startProcess(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(cmd, args, { env: { ...process.env, LIBELLULA_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let text = "";
    const scan = (chunk: Buffer) => {
      text += chunk.toString();
      for (const line of text.split("\n")) {
        if (!line.startsWith("{") || !line.includes('"port"')) continue;
        try {
          resolve({ child, port: (JSON.parse(line) as { port: number }).port });
        } catch {
          // partial line
        }
      }
    };
    child.stdout!.on("data", scan);
    child.stderr!.on("data", scan);
    child.once("exit", (code) => reject(new Error(`${cmd} exited with ${code}:\n${text}`)));
  });
}

async function call(base: string, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return { body: (await response.json()) as any, link: response.headers.get("link") ?? "" };
}

/** Fills a manager with clusters and live schedulers; returns a session token. */
async function seed(base: string): Promise<string> {
  await call(base, "POST", "/api/v1/users/signup", { name: "root", password: "password-1234", email: "root@example.com" });
  const token = (await call(base, "POST", "/api/v1/users/signin", { name: "root", password: "password-1234" })).body.token as string;
  for (let c = 1; c <= CLUSTERS; c++) {
    const id = c === 1 ? 1 : (await call(base, "POST", "/api/v1/clusters", { name: `bench-${c}`, scopes: { cidrs: [`10.${c}.0.0/16`], idc: `idc-${c}` } }, token)).body.id;
    for (let s = 1; s <= SCHEDULERS_PER_CLUSTER; s++) {
      const scheduler = { hostname: `sched-${c}-${s}`, ip: `10.${c}.0.${s}`, port: 8002, schedulerClusterId: String(id) };
      await call(base, "POST", "/manager.v2.Manager/UpdateScheduler", scheduler);
      await call(base, "POST", "/libellula.manager.v1.ManagerExt/Heartbeat", { hostname: scheduler.hostname, ip: scheduler.ip, clusterId: String(id), intervalMs: 3_600_000 });
    }
  }
  return token;
}

/** Runs ab and returns requests per second. */
function ab(url: string, options: { token?: string; postFile?: string }): number {
  const args = ["-q", "-k", "-c", String(CONCURRENCY), "-t", String(SECONDS), "-n", "10000000"];
  if (options.token) args.push("-H", `Authorization: Bearer ${options.token}`);
  if (options.postFile) args.push("-p", options.postFile, "-T", "application/json");
  args.push(url);
  const result = spawnSync("ab", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ab failed: ${result.stderr}`);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(result.stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx responses:\s+(\d+)/.exec(result.stdout)?.[1] ?? 0);
  if (failed > 0 || non2xx > 0) throw new Error(`ab saw ${failed} failed and ${non2xx} non-2xx responses for ${url}`);
  return Number(/Requests per second:\s+([\d.]+)/.exec(result.stdout)?.[1] ?? 0);
}

interface Row {
  database: string;
  target: string;
  manager: number;
  bare: number;
}

async function measure(database: string, env: Record<string, string>, args: string[]): Promise<Row[]> {
  const manager = await startProcess(join(root, "bin/manager"), ["--port", "0", "--grpc-port", "0", "--host", "127.0.0.1", ...args], env);
  const base = `http://127.0.0.1:${manager.port}`;
  const token = await seed(base);
  const listBody = { sourceType: "PEER_SOURCE", hostname: "peer-1", ip: "10.3.4.5", idc: "idc-3" };
  const postFile = join(work, "list-schedulers.json");
  writeFileSync(postFile, JSON.stringify(listBody));
  const clusters = await call(base, "GET", "/api/v1/scheduler-clusters", undefined, token);
  const schedulers = await call(base, "POST", "/manager.v2.Manager/ListSchedulers", listBody);
  if (schedulers.body.schedulers.length !== CLUSTERS * SCHEDULERS_PER_CLUSTER) throw new Error("ListSchedulers lost schedulers");
  const responsesFile = join(work, "responses.json");
  writeFileSync(responsesFile, JSON.stringify({ clusters: clusters.body, link: clusters.link, schedulers: schedulers.body }));
  const bare = await startProcess(join(root, "node_modules/.bin/bun"), [join(import.meta.dir, "bare.ts"), responsesFile]);
  const bareBase = `http://127.0.0.1:${bare.port}`;
  const rows: Row[] = [];
  for (const [target, path, post] of [
    ["ListSchedulers", "/manager.v2.Manager/ListSchedulers", true],
    ["GET /api/v1/scheduler-clusters", "/api/v1/scheduler-clusters", false],
  ] as const) {
    const opts = post ? { postFile } : { token };
    ab(`${base}${path}`, opts); // warm-up, discarded
    ab(`${bareBase}${path}`, opts);
    // Interleaved rounds, best of each: other load on the machine hits both sides alike.
    let managerRps = 0;
    let bareRps = 0;
    for (let round = 0; round < ROUNDS; round++) {
      managerRps = Math.max(managerRps, ab(`${base}${path}`, opts));
      bareRps = Math.max(bareRps, ab(`${bareBase}${path}`, opts));
    }
    rows.push({ database, target, manager: managerRps, bare: bareRps });
  }
  manager.child.kill("SIGTERM");
  bare.child.kill("SIGTERM");
  return rows;
}

const rows: Row[] = [];
async function withPostgres(): Promise<void> {
  const name = `libellula_bench_${Date.now().toString(36)}`;
  const admin = postgres(POSTGRES, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  try {
    const url = new URL(POSTGRES);
    url.pathname = `/${name}`;
    rows.push(...(await measure("PostgreSQL", { DATABASE_URL: url.toString() }, [])));
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}
async function withPglite(): Promise<void> {
  rows.push(...(await measure("PGlite", {}, ["--data-dir", join(work, "pglite")])));
}
if (process.argv.includes("--postgres-first")) {
  await withPostgres();
  await withPglite();
} else {
  await withPglite();
  await withPostgres();
}

console.log(`\nManager vs bare Hono, ab -k -c ${CONCURRENCY}, best of ${ROUNDS} × ${SECONDS} s, ${CLUSTERS} clusters × ${SCHEDULERS_PER_CLUSTER} schedulers\n`);
console.log("| Database | Request | Manager req/s | Bare Hono req/s | Ratio |");
console.log("|---|---|---:|---:|---:|");
for (const row of rows) {
  console.log(`| ${row.database} | ${row.target} | ${row.manager.toFixed(0)} | ${row.bare.toFixed(0)} | ${(row.manager / row.bare).toFixed(2)} |`);
}
process.exit(0);
