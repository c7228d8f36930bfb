/**
 * End to end: `bin/manager` on Bun (PGlite, HTTP/2 gRPC), the Deno entry passing the same smoke checks,
 * and two Bun instances sharing one PostgreSQL.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcClient } from "../../src/common/rpc.ts";
import { KeepAliveRequestSchema, Manager, SourceType } from "../../src/gen/manager/v2/manager_pb.ts";
import { freshPostgres } from "../../src/manager/test-support.ts";

setDefaultTimeout(90_000);

const root = join(import.meta.dir, "..", "..");
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Running {
  child: ChildProcess;
  port: number;
  grpcPort?: number;
  stop(): Promise<number | null>;
}

/** Starts a manager process and waits for its "Listening" log line. */
async function start(command: string, args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(command, args, { cwd: tmpdir(), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const listening = await new Promise<{ port: number; grpcPort?: number }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      for (const line of log.split("\n")) {
        if (!line.includes('"Listening"')) continue;
        try {
          resolve(JSON.parse(line));
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    exited.then((code) => reject(new Error(`exited with ${code} before listening:\n${log}`)));
  });
  const running: Running = {
    child,
    port: listening.port,
    grpcPort: listening.grpcPort,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return await exited;
    },
  };
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return running;
}

async function json(base: string, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** The checks every runtime must pass. */
async function smoke(base: string, name = "root"): Promise<string> {
  expect(await json(base, "GET", "/healthy")).toEqual({ status: 200, body: "OK" });
  const signup = await json(base, "POST", "/api/v1/users/signup", { name, password: "password-1234", email: `${name}@example.com` });
  expect(signup.status).toBe(200);
  const signin = await json(base, "POST", "/api/v1/users/signin", { name, password: "password-1234" });
  expect(signin.status).toBe(200);
  const token = signin.body.token as string;
  const clusters = await json(base, "GET", "/api/v1/scheduler-clusters", undefined, token);
  expect(clusters.body.map((c: { name: string }) => c.name)).toContain("cluster-1");
  expect((await json(base, "GET", "/api/v1/users", undefined, token)).status).toBe(200);
  expect((await json(base, "POST", "/api/v1/applications", { name: 5 }, token)).status).toBe(422);
  const updated = await json(base, "POST", "/manager.v2.Manager/UpdateScheduler", { hostname: `s-${name}`, ip: "10.0.0.1", port: 8002 });
  expect(updated.status).toBe(200);
  expect(updated.body.schedulerClusterId).toBe("1");
  const beat = await json(base, "POST", "/libellula.manager.v1.ManagerExt/Heartbeat", { hostname: `s-${name}`, ip: "10.0.0.1", intervalMs: 60000 });
  expect(beat).toEqual({ status: 200, body: { intervalMs: 60000 } });
  const listed = await json(base, "POST", "/manager.v2.Manager/ListSchedulers", { sourceType: "PEER_SOURCE", hostname: "p", ip: "10.0.0.2" });
  expect(listed.status).toBe(200);
  expect(listed.body.schedulers.map((s: { hostname: string }) => s.hostname)).toContain(`s-${name}`);
  const bad = await json(base, "POST", "/manager.v2.Manager/UpdateScheduler", { hostname: "x", ip: "nope", port: 1 });
  expect(bad.status).toBe(400);
  expect(bad.body.code).toBe("invalid_argument");
  return token;
}

describe("bin/manager on Bun with PGlite", () => {
  test("serves REST, Connect and gRPC over HTTP/2 (KeepAlive), and stops cleanly on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "libellula-manager-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const manager = await start(join(root, "bin/manager"), ["--port", "0", "--grpc-port", "0", "--host", "127.0.0.1", "--data-dir", dataDir]);
    const base = `http://127.0.0.1:${manager.port}`;
    await smoke(base);

    const transport = createGrpcClient(`127.0.0.1:${manager.grpcPort}`);
    const client = createClient(Manager, transport);
    await client.updateScheduler({ hostname: "grpc-s", ip: "10.0.0.3", port: 8002 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    async function* beats() {
      yield create(KeepAliveRequestSchema, { sourceType: SourceType.SCHEDULER_SOURCE, hostname: "grpc-s", ip: "10.0.0.3", clusterId: 1n });
      await released;
    }
    const stream = client.keepAlive(beats());
    const names = async () => (await client.listSchedulers({ hostname: "p", ip: "10.0.0.9" })).schedulers.map((s) => s.hostname);
    const deadline = Date.now() + 5000;
    while (!(await names()).includes("grpc-s")) {
      if (Date.now() > deadline) throw new Error("KeepAlive did not activate the scheduler");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    await stream;
    while ((await names()).includes("grpc-s")) {
      if (Date.now() > deadline + 5000) throw new Error("Closing KeepAlive did not deactivate the scheduler");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    transport.close();
    expect(await manager.stop()).toBe(0);
  });
});

describe("the Deno entry", () => {
  test("passes the same smoke checks as Bun", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "libellula-manager-deno-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    // The command of `deno task manager`, run directly so that SIGTERM reaches the manager itself.
    const task = (JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { tasks: { manager: string } }).tasks.manager.split(" ");
    const [command, ...rest] = task.map((part) => (part.startsWith("./") || part.startsWith("src/") ? join(root, part) : part));
    const manager = await start(command!, [...rest, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir]);
    await smoke(`http://127.0.0.1:${manager.port}`);
    await manager.stop();
  });
});

describe("two instances on one PostgreSQL", () => {
  test("start together, share users, sessions and revocations", async () => {
    const pg = await freshPostgres();
    cleanups.push(() => pg.drop());
    const args = ["--port", "0", "--grpc-port", "0", "--host", "127.0.0.1"];
    const env = { DATABASE_URL: pg.url };
    const [a, b] = await Promise.all([start(join(root, "bin/manager"), args, env), start(join(root, "bin/manager"), args, env)]);
    const baseA = `http://127.0.0.1:${a.port}`;
    const baseB = `http://127.0.0.1:${b.port}`;
    const token = await smoke(baseA);
    expect((await json(baseB, "GET", "/api/v1/scheduler-clusters", undefined, token)).status).toBe(200);
    const fromB = await json(baseB, "POST", "/api/v1/users/signin", { name: "root", password: "password-1234" });
    expect(fromB.status).toBe(200);
    const created = await json(baseB, "POST", "/api/v1/clusters", { name: "shared" }, fromB.body.token);
    expect((await json(baseA, "GET", `/api/v1/clusters/${created.body.id}`, undefined, token)).body.name).toBe("shared");
    expect((await json(baseA, "POST", "/api/v1/users/signout", undefined, fromB.body.token)).status).toBe(200);
    const deadline = Date.now() + 5000;
    while ((await json(baseB, "GET", "/api/v1/clusters", undefined, fromB.body.token)).status !== 401) {
      if (Date.now() > deadline) throw new Error("Instance B kept honouring a revoked session");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });
});
