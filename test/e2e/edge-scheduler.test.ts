/**
 * A real scheduler and seed peer against the edge-hosted manager: the Workers bundle on workerd (Miniflare) on
 * a fresh PostgreSQL database, reached with `--manager.addr http://…`. The scheduler registers and stays active
 * on unary heartbeats (no KeepAlive stream), claims and runs a preheat job created on the manager, and turns
 * inactive once it stops; the seed peer finds the scheduler through the manager's ListSchedulers.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import postgres from "postgres";
import { buildEdge } from "../../scripts/build-edge.ts";
import { freshPostgres } from "../../src/manager/test-support.ts";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { startWorkersManager } from "../helpers/edge-manager.ts";
import { api, ROOT_PASSWORD, rootToken, runJob } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(120_000);

const SCHEDULER = "edge-sched";
const cleanups: (() => Promise<unknown> | unknown)[] = [];
let base: string;
let sql: postgres.Sql;
let token: string;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let origin: Origin;

beforeAll(async () => {
  const outdir = tempDir("libellula-edge-");
  cleanups.push(() => rmSync(outdir, { recursive: true, force: true }));
  const bundle = readFileSync(buildEdge(outdir).module, "utf8");
  const pg = await freshPostgres();
  cleanups.push(pg.drop);
  sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  cleanups.push(() => sql.end({ timeout: 5 }));
  const manager = await startWorkersManager(bundle, { DATABASE_URL: pg.url, MANAGER_MIGRATE: "true", LIBELLULA_INITIAL_ROOT_PASSWORD: ROOT_PASSWORD });
  cleanups.push(() => manager.dispose());
  base = manager.base.replace(/\/$/, "");
  expect((await api(base, "GET", "/healthy")).status).toBe(200);
  token = await rootToken(base);
  origin = startOrigin();
  cleanups.push(() => origin.stop());
}, 120_000);

afterAll(async () => {
  await seed?.kill();
  await scheduler?.kill();
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error("cleanup failed", error);
    }
  }
}, 60_000);

/** The scheduler's row as the manager stored it. */
async function stored(): Promise<{ state: string; last_keep_alive_at: Date } | undefined> {
  const rows = await sql<{ state: string; last_keep_alive_at: Date }[]>`select "state", "last_keep_alive_at" from "scheduler" where "host_name" = ${SCHEDULER}`;
  return rows[0];
}

/** Runs the manager's cron trigger once (the liveness sweep). */
async function sweep(): Promise<void> {
  const trigger = await fetch(`${base}/cdn-cgi/local/scheduled?cron=*+*+*+*+*`);
  expect(trigger.status).toBe(200);
  await trigger.text();
}

/** The schedulers the manager hands a peer, through Connect's ListSchedulers. */
async function listed(): Promise<{ hostname: string; ip: string; port: number; state: string }[]> {
  const answer = await api(base, "POST", "/manager.v2.Manager/ListSchedulers", { body: { sourceType: "PEER_SOURCE", hostname: "probe", ip: "10.0.0.9" } });
  expect(answer.status).toBe(200);
  return answer.body.schedulers ?? [];
}

test("a scheduler with an http:// manager.addr registers and stays active on unary heartbeats", async () => {
  scheduler = await spawnScheduler([
    "--manager.addr", base,
    "--manager.schedulerClusterID", "1",
    "--manager.keepAlive.interval", "1s",
    "--manager.statsInterval", "1s",
    "--job.claimInterval", "200ms",
    "--server.host", SCHEDULER,
  ]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  expect(scheduler.output()).not.toContain("Manager heartbeat failed");

  const [, port] = scheduler.address.split(":");
  await waitFor(async () => (await listed()).some((s) => s.hostname === SCHEDULER), "the manager to list the scheduler", 15_000);
  expect((await listed()).find((s) => s.hostname === SCHEDULER)).toMatchObject({ ip: "127.0.0.1", port: Number(port), state: "active" });
  const rest = await api(base, "GET", "/api/v1/schedulers", { token });
  expect(rest.status).toBe(200);
  expect(rest.body.find((s: { host_name: string }) => s.host_name === SCHEDULER)).toMatchObject({ state: "active", scheduler_cluster_id: 1 });

  // Heartbeats move the last keep-alive on, and a sweep long after the first three intervals keeps it active.
  const first = (await stored())!.last_keep_alive_at.getTime();
  let previous = first;
  for (let beats = 0; beats < 4; beats++) {
    previous = await waitFor(async () => {
      const at = (await stored())!.last_keep_alive_at.getTime();
      return at > previous ? at : undefined;
    }, "another heartbeat", 10_000);
  }
  await sweep();
  expect((await stored())?.state).toBe("active");
  expect((await listed()).map((s) => s.hostname)).toContain(SCHEDULER);
  expect(scheduler.output()).not.toContain("keep-alive failed");
});

test("a seed peer finds the scheduler through the edge manager, and a preheat job created there is run", async () => {
  seed = await spawnPeer({ name: "edge-seed", seed: true, extra: ["--manager.addr", base, "--dynconfig.refreshInterval", "300ms"] });
  await waitFor(() => /Schedulers updated/.test(seed.output()), "the seed peer to learn the scheduler from the manager", 15_000);
  expect(seed.output()).toContain(scheduler.address);

  const file = origin.add("/edge/preheat.bin", randomFile(2 * 1024 * 1024).data);
  const url = origin.url("/edge/preheat.bin");
  // The seed peer announces itself once it has the scheduler; until then a preheat has no seed to warm.
  const job = await waitFor(async () => {
    const done = await runJob(base, token, { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [1] }, "/api/v1/jobs", 30_000);
    return done.state === "SUCCESS" ? done : undefined;
  }, "a successful preheat", 60_000);
  expect(job.result.job_states[0].results[0].success_tasks).toEqual([{ url, hostname: "edge-seed", ip: "127.0.0.1" }]);
  expect(origin.sent("/edge/preheat.bin")).toBeGreaterThanOrEqual(file.data.length);
});

test("the scheduler's stats reports reach the manager, and once it stops the sweeps mark it inactive", async () => {
  // ReportStats: an interval's counts (the seed peer is the one host), and the seed peer that announced itself here.
  await waitFor(async () => {
    const rows = await sql`select max("hosts")::int as n from "traffic_bucket" b join "scheduler" s on s."id" = b."scheduler_id" where s."host_name" = ${SCHEDULER}`;
    return rows[0]!.n === 1;
  }, "a stats report with the seed peer counted", 15_000);
  await waitFor(async () => (await sql`select 1 from "seed_peer" where "host_name" = 'edge-seed'`).length === 1, "the seed peer in the manager", 15_000);

  await scheduler.kill();
  await waitFor(async () => {
    await sweep();
    return (await stored())?.state === "inactive";
  }, "the sweep to mark the stopped scheduler inactive", 30_000);
  expect((await listed()).map((s) => s.hostname)).not.toContain(SCHEDULER);
});
