import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import edge from "./main.edge.ts";
import { freshPostgres } from "./test-support.ts";

setDefaultTimeout(60_000);
const pg = await freshPostgres();
afterAll(() => pg.drop());

test("the edge entry serves the app through `fetch` alone, with PostgreSQL from the environment", async () => {
  const env = { DATABASE_URL: pg.url, MANAGER_MIGRATE: "true", LIBELLULA_JWT_KEY: "k".repeat(32) };
  const healthy = await edge.fetch(new Request("http://edge/healthy"), env);
  expect(await healthy.json()).toBe("OK");
  const signup = await edge.fetch(
    new Request("http://edge/api/v1/users/signup", { method: "POST", body: JSON.stringify({ name: "root", password: "password-1234", email: "r@example.com" }) }),
    env,
  );
  expect(signup.status).toBe(200);
  const list = await edge.fetch(
    new Request("http://edge/manager.v2.Manager/ListSchedulers", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
    env,
  );
  expect(list.status).toBe(200);
  expect(await list.json()).toEqual({});
  const beat = await edge.fetch(
    new Request("http://edge/libellula.manager.v1.ManagerExt/Heartbeat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hostname: "nope", ip: "10.0.0.1" }) }),
    env,
  );
  expect(beat.status).toBe(404);
});

test("the edge entry answers a clear error without a database URL, and refuses one that is not PostgreSQL", async () => {
  const missing = await edge.fetch(new Request("http://edge/api/v1/users"), {});
  expect(missing.status).toBe(500);
  expect(await missing.json()).toEqual({ message: "Cannot start the manager: set DATABASE_URL or bind HYPERDRIVE" });
  const wrong = await edge.fetch(new Request("http://edge/api/v1/users"), { DATABASE_URL: "mysql://root@127.0.0.1/test" });
  expect(wrong.status).toBe(500);
  expect((await wrong.json()).message).toBe('Cannot start the manager: DATABASE_URL must be a postgres:// URL, got "mysql:…"');
});

test("each request gets its own connection, closed through waitUntil, and the cron handler sweeps", async () => {
  const env = { DATABASE_URL: pg.url, MANAGER_MIGRATE: "true", LIBELLULA_JWT_KEY: "k".repeat(32) };
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (promise: Promise<unknown>) => void pending.push(promise) };
  const signin = () =>
    edge.fetch(new Request("http://edge/api/v1/users/signin", { method: "POST", body: JSON.stringify({ name: "root", password: "password-1234" }) }), env, ctx);
  const answers = await Promise.all([signin(), signin(), signin()]);
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
  expect(pending).toHaveLength(3);
  await Promise.all(pending);
  // Through the HYPERDRIVE binding instead of DATABASE_URL.
  const viaHyperdrive = await edge.fetch(new Request("http://edge/api/v1/users/signin", { method: "POST", body: JSON.stringify({ name: "root", password: "nope-nope-nope" }) }), {
    HYPERDRIVE: { connectionString: pg.url },
  });
  expect(viaHyperdrive.status).toBe(401);

  const beat = await edge.fetch(
    new Request("http://edge/libellula.manager.v1.ManagerExt/Heartbeat", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
    env,
  );
  expect(beat.status).toBe(400);
  const update = await edge.fetch(
    new Request("http://edge/manager.v2.Manager/UpdateScheduler", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hostname: "s1", ip: "10.0.0.1", port: 8002 }) }),
    env,
  );
  expect(update.status).toBe(200);
  const fast = await edge.fetch(
    new Request("http://edge/libellula.manager.v1.ManagerExt/Heartbeat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hostname: "s1", ip: "10.0.0.1", intervalMs: 50 }) }),
    env,
  );
  expect(fast.status).toBe(200);
  const { default: postgres } = await import("postgres");
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const state = async () => (await sql`select "state" from "scheduler" where "host_name" = 's1'`)[0]?.state;
    expect(await state()).toBe("active");
    await new Promise((resolve) => setTimeout(resolve, 50 * 3 + 300));
    await edge.scheduled({}, env);
    expect(await state()).toBe("inactive");
  } finally {
    await sql.end();
  }
});
