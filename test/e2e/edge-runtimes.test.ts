/**
 * The edge-hosted manager: the Workers bundle that `wrangler deploy` would upload (deploy/cloudflare) running
 * on workerd through Miniflare, and the Deno entries (`deno task manager` and the Deno Deploy entry in
 * deploy/deno), each on a fresh PostgreSQL database, pass the same smoke checks: health, sign-up and sign-in,
 * a cluster, a preheat job stored and listed, the unary scheduler RPCs, and the console from the same origin.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { buildEdge } from "../../scripts/build-edge.ts";
import { freshPostgres } from "../../src/manager/test-support.ts";
import { startWorkersManager } from "../helpers/edge-manager.ts";
import { ROOT, tempDir, waitFor } from "../helpers/processes.ts";

setDefaultTimeout(240_000);

const JWT_KEY = "edge-test-key-".padEnd(40, "x");
const PASSWORD = "password-1234";
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error("cleanup failed", error);
    }
  }
});

/** A fresh database, dropped after the file, and a client to look at what the manager stored. */
async function database(): Promise<{ url: string; sql: postgres.Sql }> {
  const pg = await freshPostgres();
  cleanups.push(pg.drop);
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  cleanups.push(() => sql.end({ timeout: 5 }));
  return { url: pg.url, sql };
}

async function call(base: string, method: string, path: string, options: { body?: unknown; token?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(new URL(path, base), { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body, type: response.headers.get("content-type") ?? "" };
}

/** The checks every runtime must pass; `name` keeps each runtime's rows apart in the assertions. */
async function smoke(base: string, sql: postgres.Sql, name: string): Promise<{ token: string }> {
  expect(await call(base, "GET", "/healthy")).toMatchObject({ status: 200, body: "OK" });

  const signup = await call(base, "POST", "/api/v1/users/signup", { body: { name: "root", password: PASSWORD, email: "root@example.com" } });
  expect(signup.status).toBe(200);
  expect(signup.body.name).toBe("root");
  const wrong = await call(base, "POST", "/api/v1/users/signin", { body: { name: "root", password: "not-the-password" } });
  expect(wrong.status).toBe(401);
  expect(wrong.body.message).toBe("Incorrect name or password");
  const signin = await call(base, "POST", "/api/v1/users/signin", { body: { name: "root", password: PASSWORD } });
  expect(signin.status).toBe(200);
  const token = signin.body.token as string;
  expect(token.split(".")).toHaveLength(3);
  expect((await call(base, "GET", "/api/v1/clusters")).status).toBe(401);

  const cluster = await call(base, "POST", "/api/v1/clusters", { token, body: { name: `edge-${name}`, bio: `on ${name}` } });
  expect(cluster.status).toBe(200);
  expect(cluster.body.name).toBe(`edge-${name}`);
  const schedulerClusterId = cluster.body.scheduler_cluster_id as number;
  expect(schedulerClusterId).toBeGreaterThan(0);
  const fetched = await call(base, "GET", `/api/v1/clusters/${cluster.body.id}`, { token });
  expect(fetched.body).toMatchObject({ id: cluster.body.id, name: `edge-${name}`, bio: `on ${name}` });
  expect((await call(base, "POST", "/api/v1/clusters", { token, body: { name: 7 } })).status).toBe(422);

  const url = `http://origin.invalid/${name}/file.bin`;
  const job = await call(base, "POST", "/api/v1/jobs", {
    token,
    body: { type: "preheat", args: { type: "file", url }, scheduler_cluster_ids: [schedulerClusterId] },
  });
  expect(job.status).toBe(200);
  expect(job.body).toMatchObject({ type: "preheat", state: "PENDING" });
  const listed = await call(base, "GET", "/api/v1/jobs", { token });
  expect(listed.status).toBe(200);
  expect(listed.body.map((j: { id: number }) => j.id)).toContain(job.body.id);
  expect((await call(base, "GET", `/api/v1/jobs/${job.body.id}`, { token })).body).toMatchObject({ id: job.body.id, state: "PENDING" });
  // Stored in the PostgreSQL the runtime was handed, not somewhere of its own.
  const stored = await sql`select "type", "state", "args" from "job" where "id" = ${job.body.id}`;
  expect(stored).toHaveLength(1);
  expect(stored[0]).toMatchObject({ type: "preheat", state: "PENDING" });
  expect(JSON.stringify(stored[0]!.args)).toContain(url);

  // What a scheduler needs from an edge-hosted manager: unary Connect calls over HTTP/1.1 (default cluster).
  const updated = await call(base, "POST", "/manager.v2.Manager/UpdateScheduler", {
    body: { hostname: `s-${name}`, ip: "10.0.0.1", port: 8002 },
  });
  expect(updated.status).toBe(200);
  expect(updated.body.schedulerClusterId).toBe("1");
  const beat = await call(base, "POST", "/libellula.manager.v1.ManagerExt/Heartbeat", { body: { hostname: `s-${name}`, ip: "10.0.0.1", intervalMs: 60000 } });
  expect(beat).toMatchObject({ status: 200, body: { intervalMs: 60000 } });
  const schedulers = await call(base, "POST", "/manager.v2.Manager/ListSchedulers", { body: { sourceType: "PEER_SOURCE", hostname: "p", ip: "10.0.0.2" } });
  expect(schedulers.status).toBe(200);
  expect(schedulers.body.schedulers.map((s: { hostname: string }) => s.hostname)).toContain(`s-${name}`);

  // The console from the same deployment: its page, a deep link, and a file the page loads.
  const page = await call(base, "GET", "/");
  expect(page.status).toBe(200);
  expect(page.type).toStartWith("text/html");
  const script = /<script[^>]+src="([^"]+\.js)"/.exec(page.body as string)?.[1];
  expect(script).toBeDefined();
  const asset = await call(base, "GET", script!);
  expect(asset.status).toBe(200);
  expect(asset.type).toStartWith("text/javascript");
  expect((await call(base, "GET", "/clusters/1")).type).toStartWith("text/html");
  return { token };
}

describe("workerd (Miniflare) running the Workers bundle", () => {
  test("passes the smoke checks, migrates on its first request, and sweeps from its cron trigger", async () => {
    const outdir = tempDir("libellula-edge-");
    cleanups.push(() => rmSync(outdir, { recursive: true, force: true }));
    const { module } = buildEdge(outdir);
    const bundle = readFileSync(module, "utf8");
    // Nothing of PGlite, Bun or the file system made it into the module.
    expect(bundle).not.toContain("pglite.wasm");
    expect(bundle).not.toMatch(/from\s*"bun:|from\s*"node:fs"/);

    const { url, sql } = await database();
    const manager = await startWorkersManager(bundle, { DATABASE_URL: url, LIBELLULA_JWT_KEY: JWT_KEY, MANAGER_MIGRATE: "true" });
    cleanups.push(() => manager.dispose());
    const base = manager.base;

    const before = await sql`select count(*)::int as n from information_schema.tables where table_name = 'job'`;
    expect(before[0]!.n).toBe(0);
    await smoke(base, sql, "workerd");
    const migrations = await sql`select count(*)::int as n from "__libellula_migrations"`;
    expect(migrations[0]!.n).toBeGreaterThan(0);

    // A scheduler that stops sending heartbeats turns inactive when the cron trigger runs.
    const beat = await call(base, "POST", "/libellula.manager.v1.ManagerExt/Heartbeat", { body: { hostname: "s-workerd", ip: "10.0.0.1", intervalMs: 100 } });
    expect(beat.status).toBe(200);
    const intervalMs = Number(beat.body.intervalMs);
    const state = async () => (await sql`select "state" from "scheduler" where "host_name" = 's-workerd'`)[0]?.state;
    expect(await state()).toBe("active");
    await new Promise((resolve) => setTimeout(resolve, intervalMs * 3 + 500));
    expect(await state()).toBe("active");
    const trigger = await fetch(new URL("/cdn-cgi/local/scheduled?cron=*+*+*+*+*", base));
    expect(trigger.status).toBe(200);
    await trigger.text();
    await waitFor(async () => (await state()) === "inactive", "the cron trigger to mark the scheduler inactive", 30_000);
  });
});

/** Starts a Deno manager and waits for its "Listening" line; killed after the file. */
async function startDeno(args: string[], env: Record<string, string>): Promise<{ base: string; stop: () => Promise<number | null> }> {
  const deno = join(ROOT, "node_modules", "deno", "deno");
  const child = spawn(deno, args, { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let log = "";
  const port = await new Promise<number>((resolve, reject) => {
    const scan = (chunk: Buffer) => {
      log += chunk.toString();
      for (const line of log.split("\n")) {
        if (!line.includes('"Listening"')) continue;
        try {
          resolve((JSON.parse(line) as { port: number }).port);
        } catch {
          // a partial line: the next chunk completes it
        }
      }
    };
    child.stdout!.on("data", scan);
    child.stderr!.on("data", scan);
    exited.then((code) => reject(new Error(`deno exited with ${code} before listening:\n${log}`)));
  });
  return {
    base: `http://127.0.0.1:${port}/`,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return await exited;
    },
  };
}

describe("Deno on PostgreSQL", () => {
  test("`deno task manager` with DATABASE_URL passes the smoke checks", async () => {
    const { url, sql } = await database();
    // The command of `deno task manager`, run directly so that SIGTERM reaches the manager itself.
    const task = (JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { tasks: Record<string, string> }).tasks.manager!.split(" ");
    expect(task[0]).toBe("./node_modules/deno/deno");
    const manager = await startDeno([...task.slice(1), "--port", "0", "--host", "127.0.0.1"], { DATABASE_URL: url, LIBELLULA_JWT_KEY: JWT_KEY });
    await smoke(manager.base, sql, "deno");
    expect(await manager.stop()).toBe(0);
  });

  test("the Deno Deploy entry (deploy/deno/main.ts) passes the smoke checks", async () => {
    const { url, sql } = await database();
    const task = (JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { tasks: Record<string, string> }).tasks["manager:deploy"]!.split(" ");
    expect(task.at(-1)).toBe("deploy/deno/main.ts");
    const manager = await startDeno(task.slice(1), { DATABASE_URL: url, PORT: "0", HOSTNAME: "127.0.0.1" });
    await smoke(manager.base, sql, "deno-deploy");
    await manager.stop();
  });

  test("the Deno entries type-check under Deno", async () => {
    const deno = join(ROOT, "node_modules", "deno", "deno");
    const child = spawn(deno, ["check", "deploy/deno/main.ts", "src/manager/main.deno.ts"], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect({ code, output }).toMatchObject({ code: 0 });
  });

  test("the Deno Deploy entry refuses to start without DATABASE_URL", async () => {
    const deno = join(ROOT, "node_modules", "deno", "deno");
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", PORT: "0", HOSTNAME: "127.0.0.1" };
    delete env.DATABASE_URL;
    const child = spawn(deno, ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "deploy/deno/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).not.toBe(0);
    expect(stderr).toContain("Cannot start the manager: set DATABASE_URL");
  });
});
