/**
 * The dashboard, the task graph and the cluster's instances after real P2P downloads: a manager, a scheduler
 * reporting every second, a seed peer and two peers. What the pages show is checked against the daemons' own
 * metrics, and the pages load with no console error and no failed request.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { metric, runCli, sha256File, tempDir, waitFor } from "../helpers/processes.ts";
import { launchBrowser, openPage, signIn, signupByApi, startManager, type ConsoleManager, type WatchedPage } from "./support.ts";

setDefaultTimeout(300_000);
const MIB = 1024 * 1024;
let manager: ConsoleManager;
let browser: Browser;
let origin: Origin;
let scheduler: SchedulerDaemon;
let seed: PeerDaemon;
let peers: PeerDaemon[] = [];
let watched: WatchedPage;
let taskId: string;

beforeAll(async () => {
  origin = startOrigin();
  [manager, browser] = await Promise.all([startManager(), launchBrowser()]);
  await signupByApi(manager.url, "root", "root-password-1");
  watched = await openPage(browser, manager.url);
  await signIn(watched, "root", "root-password-1");
}, 180_000);

afterAll(async () => {
  await watched?.close();
  await Promise.all([...peers.map((p) => p.kill()), seed?.kill()]);
  await scheduler?.kill();
  await browser?.close();
  await manager?.kill();
  await origin?.stop();
}, 60_000);

test("before any download the dashboard guides a new user and says there is no traffic yet", async () => {
  const { page } = watched;
  await page.getByRole("heading", { name: "Getting started" }).waitFor();
  await page.getByText("No downloads in this period").waitFor();
  await watched.screenshot("dashboard-empty");
  expect(watched.problems).toEqual([]);
});

test("after P2P downloads the dashboard shows the traffic by type and the hit ratio the daemons measured", async () => {
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.keepAlive.interval", "1s", "--manager.statsInterval", "1s"]);
  await waitFor(() => /Registered with the manager/.test(scheduler.output()), "the scheduler's registration", 30_000);
  seed = await spawnPeer({ name: "console-seed", seed: true, extra: ["--manager.addr", manager.grpc] });
  peers = [
    await spawnPeer({ name: "console-peer-1", extra: ["--manager.addr", manager.grpc] }),
    await spawnPeer({ name: "console-peer-2", extra: ["--manager.addr", manager.grpc] }),
  ];
  const file = origin.add("/console.bin", randomFile(16 * MIB).data);
  for (const [i, peer] of peers.entries()) {
    const out = join(tempDir(), `out-${i}`);
    const result = await runCli("dfget", [origin.url("/console.bin"), "-O", out, "-e", peer.socket]);
    expect(result.code).toBe(0);
    expect(await sha256File(out)).toBe(file.sha256);
  }
  taskId = /"taskId":"([0-9a-f]{64})"/.exec(peers[0]!.output())![1]!;
  const fromSource = await metric(seed.metricsPort, "libellula_download_traffic_bytes_total", { type: "back_to_source" });
  expect(fromSource).toBe(16 * MIB);

  const { page } = watched;
  await page.goto("/?range=1h");
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  // The page refreshes on its own; the figures appear once the scheduler's reports are in.
  await page.getByTestId("traffic-peer").filter({ hasText: "32.0 MiB" }).waitFor({ timeout: 150_000 });
  expect(await page.getByTestId("traffic-source").textContent()).toBe("16.0 MiB");
  expect(await page.getByTestId("hit-ratio").textContent()).toBe("66.7%");
  await page.getByRole("img", { name: /Bytes by type, last hour/ }).waitFor();
  await page.getByRole("heading", { name: "Getting started" }).waitFor({ state: "detached" });
  const tiles = page.getByRole("list", { name: "Totals" });
  await tiles.getByRole("link", { name: /^1\s*Active schedulers/ }).waitFor();
  await tiles.getByRole("link", { name: /^1\s*Active seed peers/ }).waitFor();
  await watched.screenshot("dashboard-traffic");
  expect(watched.problems).toEqual([]);
});

test("the task graph, opened from the dashboard's recent tasks, shows who got the pieces from whom, with the bytes", async () => {
  const { page } = watched;
  const recent = page.getByTestId("recent-task").filter({ hasText: taskId.slice(0, 12) });
  await recent.filter({ hasText: "48.0 MiB" }).waitFor({ timeout: 60_000 });
  expect((await recent.locator("td").allTextContents()).slice(1, 5)).toEqual(["cluster-1", "3", "48.0 MiB", "16.0 MiB"]);
  await recent.getByRole("link", { name: `Peer graph of task ${taskId}` }).click();
  await page.waitForURL(/\/tasks\?graph=/);
  const rows = page.getByTestId("graph-edge");
  await rows.first().waitFor();
  const edges = await Promise.all((await rows.all()).map(async (row) => (await row.locator("td").allTextContents()).map((t) => t.trim())));
  expect(edges).toContainEqual(["origin", "console-seed", "4", "16.0 MiB"]);
  const toPeers = edges.filter(([, to]) => to === "console-peer-1" || to === "console-peer-2");
  expect(toPeers.length).toBeGreaterThanOrEqual(2);
  expect(toPeers.every(([from]) => ["console-seed", "console-peer-1", "console-peer-2"].includes(from!))).toBe(true);
  expect(toPeers.reduce((t, [, , pieces]) => t + Number(pieces), 0)).toBe(8);
  await page.getByRole("img", { name: /Peer graph of 4 peers/ }).waitFor();
  expect(await page.getByTestId("graph-node").count()).toBe(4);
  await watched.screenshot("task-graph");
  expect(watched.problems).toEqual([]);
});

test("the cluster lists its scheduler and seed peer as active, with version and last heartbeat", async () => {
  const { page } = watched;
  await page.goto("/clusters/1?tab=schedulers");
  const scheduler = page.getByTestId("scheduler-row");
  await scheduler.filter({ hasText: "active" }).filter({ hasText: /\d+\.\d+\.\d+/ }).waitFor({ timeout: 30_000 });
  await page.goto("/clusters/1?tab=seed-peers");
  const seedRow = page.getByRole("row").filter({ hasText: "console-seed" });
  await seedRow.filter({ hasText: "active" }).filter({ hasText: /\d+\.\d+\.\d+/ }).waitFor({ timeout: 30_000 });
  expect(await seedRow.textContent()).toContain("super");
  await watched.screenshot("cluster-seed-peers");
  expect(watched.problems).toEqual([]);
});
