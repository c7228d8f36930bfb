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
