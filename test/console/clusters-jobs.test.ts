/**
 * Clusters and jobs in the console against real processes: create a cluster with checked settings, watch a
 * scheduler register with it, run a preheat and see it go from PENDING to SUCCESS with the seed peer's result,
 * look the task up, sync and filter peers, and browse the job history.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { spawnScheduler, type SchedulerDaemon } from "../helpers/cluster.ts";
import { spawnPeer, type PeerDaemon } from "../helpers/dfdaemon.ts";
import { api } from "../helpers/manager.ts";
import { randomFile, startOrigin, type Origin } from "../helpers/origin.ts";
import { waitFor } from "../helpers/processes.ts";
import { launchBrowser, openPage, signIn, signinByApi, signupByApi, startManager, type ConsoleManager, type WatchedPage } from "./support.ts";

setDefaultTimeout(120_000);
const MIB = 1024 * 1024;
let manager: ConsoleManager;
let browser: Browser;
let origin: Origin;
let scheduler: SchedulerDaemon | undefined;
let seed: PeerDaemon | undefined;
let watched: WatchedPage;
let clusterId: number;
let token: string;

beforeAll(async () => {
  origin = startOrigin();
  [manager, browser] = await Promise.all([startManager(), launchBrowser()]);
  await signupByApi(manager.url, "root", "root-password-1");
  token = await signinByApi(manager.url, "root", "root-password-1");
  watched = await openPage(browser, manager.url);
  await signIn(watched, "root", "root-password-1");
});

afterAll(async () => {
  await watched?.close();
  await seed?.kill();
  await scheduler?.kill();
  await browser?.close();
  await manager?.kill();
  await origin?.stop();
});

test("a cluster is created through the form, which names bad settings before sending", async () => {
  const { page } = watched;
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clusters" }).click();
  await page.getByRole("heading", { level: 1, name: "Clusters" }).waitFor();
  await page.getByRole("link", { name: "New cluster" }).click();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("edge-east");
  await page.getByRole("textbox", { name: "Description", exact: true }).fill("East coast edge sites");
  await page.getByRole("textbox", { name: "IDC", exact: true }).fill("dc-east");
  await page.getByRole("textbox", { name: "CIDRs", exact: true }).fill("10.0.0.0/8\n10.1.0.0/33");
  await page.getByRole("spinbutton", { name: "Candidate parent limit" }).fill("40");
  await page.getByRole("textbox", { name: "More peer settings (JSON)" }).fill('{"block_list": ');
  await page.getByRole("button", { name: "Create cluster" }).click();
  await page.getByText('"10.1.0.0/33" is not a CIDR block').waitFor();
  await page.getByText("Must be between 1 and 20").waitFor();
  await page.getByText(/^Invalid JSON/).waitFor();
  await watched.screenshot("cluster-form-errors");

  await page.getByRole("textbox", { name: "CIDRs", exact: true }).fill("10.0.0.0/8\nfd00::/8");
  await page.getByRole("spinbutton", { name: "Candidate parent limit" }).fill("4");
  await page.getByRole("spinbutton", { name: "Seed peer load limit" }).fill("3000");
  await page.getByRole("textbox", { name: "More peer settings (JSON)" }).fill('{"block_list": {"task": {"download": {"urls": ["^https://blocked/"]}}}}');
  await page.getByRole("button", { name: "Create cluster" }).click();
  await page.getByRole("heading", { level: 1, name: "edge-east" }).waitFor();
  clusterId = Number(/\/clusters\/(\d+)$/.exec(page.url())?.[1]);
  expect(clusterId).toBeGreaterThan(1);
  await page.getByText("Candidate parent limit").waitFor();
  await watched.screenshot("cluster-overview");

  // What the form sent is what the manager stored.
  const stored = await api(manager.url, "GET", `/api/v1/clusters/${clusterId}`, { token });
  expect(stored.status).toBe(200);
  expect(stored.body.scopes).toEqual({ idc: "dc-east", cidrs: ["10.0.0.0/8", "fd00::/8"], hostnames: [] });
  expect(stored.body.scheduler_cluster_config).toMatchObject({ candidate_parent_limit: 4, filter_parent_limit: 15, job_rate_limit: 10 });
  expect(stored.body.seed_peer_cluster_config).toMatchObject({ load_limit: 3000 });
  expect(stored.body.peer_cluster_config).toMatchObject({ load_limit: 200, block_list: { task: { download: { urls: ["^https://blocked/"] } } } });
  expect(watched.problems).toEqual([]);
});

test("a scheduler started for the cluster appears on its Schedulers tab, active, with a heartbeat", async () => {
  const { page } = watched;
  await page.getByRole("tab", { name: "Schedulers" }).click();
  await page.getByText("No scheduler has registered with this cluster").waitFor();
  scheduler = await spawnScheduler(["--manager.addr", manager.grpc, "--manager.schedulerClusterID", String(clusterId), "--manager.keepAlive.interval", "1s", "--manager.statsInterval", "1s", "--job.claimInterval", "100ms"]);
  const row = page.getByTestId("scheduler-row");
  await row.filter({ hasText: "active" }).waitFor({ timeout: 30_000 });
  expect(await row.count()).toBe(1);
  const text = await row.innerText();
  expect(text).toContain(`127.0.0.1:${scheduler.address.split(":")[1]}`);
  expect(text).toContain("preheat");
  expect(text).not.toContain("never");
  await watched.screenshot("cluster-schedulers");
  // The clusters list counts it.
  await page.getByRole("link", { name: "Clusters", exact: true }).first().click();
  await page.getByRole("row").filter({ hasText: "edge-east" }).filter({ hasText: "1 of 1" }).waitFor();
  await watched.screenshot("clusters");
  expect(watched.problems).toEqual([]);
});

test("a preheat made in the form is watched live from PENDING to SUCCESS with the seed peer's result", async () => {
  const { page } = watched;
  origin.add("/console/model.bin", randomFile(6 * MIB).data);
  const url = origin.url("/console/model.bin");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Preheat" }).click();
  await page.getByRole("heading", { level: 1, name: "Preheat" }).waitFor();
  // Bad input is named first.
  await page.getByRole("textbox", { name: "URLs", exact: true }).fill("not a url");
  await page.getByRole("button", { name: "Start preheat" }).click();
  await page.getByText('"not a url" is not a URL').waitFor();
  await page.getByRole("textbox", { name: "URLs", exact: true }).fill(url);
  await page.getByRole("checkbox", { name: /edge-east/ }).check();
  await page.getByRole("button", { name: "Add a header" }).click();
  await page.getByRole("textbox", { name: "Header 1 name" }).fill("X-Console-Test");
  await page.getByRole("textbox", { name: "Header 1 value" }).fill("yes");
  await watched.screenshot("preheat-form");
  await page.getByRole("button", { name: "Start preheat" }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  const jobId = Number(/\/jobs\/(\d+)$/.exec(page.url())?.[1]);
  // No seed peer yet: the scheduler waits for one, so the job is visibly pending.
  await page.getByTestId("job-state").filter({ hasText: "PENDING" }).waitFor();
  await page.getByRole("progressbar", { name: "Job progress" }).waitFor();
  await watched.screenshot("job-pending");
  seed = await spawnPeer({ name: "console-seed", seed: true, schedulers: [scheduler!.address] });
  await page.getByTestId("job-state").filter({ hasText: "SUCCESS" }).waitFor({ timeout: 60_000 });
  await page.getByRole("table", { name: "Hosts" }).getByRole("row").filter({ hasText: "console-seed" }).waitFor();
  await page.getByText("1 succeeded, 0 failed").waitFor();
  await watched.screenshot("job-success");

  const job = await api(manager.url, "GET", `/api/v1/jobs/${jobId}`, { token });
  expect(job.body.state).toBe("SUCCESS");
  expect(job.body.args).toMatchObject({ type: "file", url, scope: "single_seed_peer", headers: { "X-Console-Test": "yes" } });
  expect(job.body.scheduler_clusters).toEqual([{ id: clusterId, name: "edge-east" }]);
  expect(origin.headers("/console/model.bin").some((h) => h.get("x-console-test") === "yes")).toBe(true);
  expect(watched.problems).toEqual([]);
});

test("get_task from the Tasks page finds the seed peer holding the file; the history filters by type and state", async () => {
  const { page } = watched;
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tasks" }).click();
  await page.getByRole("textbox", { name: "URL", exact: true }).fill(origin.url("/console/model.bin"));
  await page.getByRole("checkbox", { name: /edge-east/ }).check();
  await page.getByRole("button", { name: "Find peers holding it" }).click();
  await page.getByTestId("job-state").filter({ hasText: "SUCCESS" }).waitFor({ timeout: 60_000 });
  const holder = page.getByRole("table", { name: "Hosts holding the task" }).getByRole("row").filter({ hasText: "console-seed" });
  await holder.filter({ hasText: "finished" }).waitFor();
  await watched.screenshot("job-get-task");

  // The task's peer graph: the seed peer fetched it from the origin, as its scheduler reported.
  await page.getByRole("link", { name: "Open in Tasks" }).click();
  await page.getByRole("combobox", { name: "Cluster" }).selectOption({ label: "edge-east" });
  const fromOrigin = page.getByTestId("graph-edge").filter({ hasText: "origin" }).filter({ hasText: "console-seed" });
  await waitFor(async () => {
    await page.getByRole("button", { name: "Show graph" }).click();
    return await fromOrigin.isVisible();
  }, "the origin to seed edge in the task graph", 60_000);
  await watched.screenshot("task-graph-preheat");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await page.getByRole("heading", { level: 1, name: "Job history" }).waitFor();
  await waitFor(async () => (await page.getByTestId("job-row").count()) === 2, "both jobs in the history");
  await page.getByRole("combobox", { name: "Type" }).selectOption("preheat");
  await page.waitForURL(/type=preheat/);
  await waitFor(async () => (await page.getByTestId("job-row").count()) === 1, "the preheat filter");
  await page.getByRole("combobox", { name: "State" }).selectOption("FAILURE");
  await page.getByText("No job matches these filters").waitFor();
  await page.getByRole("combobox", { name: "State" }).selectOption("SUCCESS");
  await waitFor(async () => (await page.getByTestId("job-row").count()) === 1, "the success filter");
  await watched.screenshot("jobs-history");
  expect(watched.problems).toEqual([]);
});

test("peers synced on demand from the cluster page are listed and filtered", async () => {
  const { page } = watched;
  await page.goto(`/clusters/${clusterId}?tab=peers`);
  await page.getByText("No peers reported yet").waitFor();
  await page.getByRole("button", { name: "Sync peers now" }).click();
  await page.getByTestId("job-state").filter({ hasText: "SUCCESS" }).waitFor({ timeout: 60_000 });
  await page.getByText(/The scheduler reported 1 host/).waitFor();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Peers" }).click();
  await page.getByRole("table", { name: "Peers" }).getByRole("row").filter({ hasText: "console-seed" }).waitFor();
  await page.getByRole("textbox", { name: "Host name" }).fill("nobody");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("No peer matches these filters").waitFor();
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.getByRole("table", { name: "Peers" }).getByRole("row").filter({ hasText: "console-seed" }).waitFor();
  await watched.screenshot("peers");
  await page.goto("/");
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  await page.getByRole("list", { name: "Totals" }).getByText("Active schedulers").waitFor();
  await watched.screenshot("dashboard");
  expect(watched.problems).toEqual([]);
});
