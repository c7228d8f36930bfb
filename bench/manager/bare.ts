/**
 * The baseline: a bare Hono app on Bun.serve answering the same JSON the manager answered, with no auth,
 * database or validation. Usage: bun bench/manager/bare.ts <responses.json>; prints {"port": N} on stdout.
 */
import { readFileSync } from "node:fs";
import { Hono } from "hono";

const [file] = process.argv.slice(2);
if (!file) throw new Error("Usage: bare.ts <responses.json>");
const responses = JSON.parse(readFileSync(file, "utf8")) as { clusters: unknown; link: string; schedulers: unknown };

const app = new Hono();
app.get("/api/v1/scheduler-clusters", (c) => {
  c.header("link", responses.link);
  return c.json(responses.clusters);
});
app.post("/manager.v2.Manager/ListSchedulers", async (c) => {
  await c.req.json();
  return c.json(responses.schedulers);
});

const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
console.log(JSON.stringify({ port: server.port }));
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
