/**
 * Access in the console: a personal access token shown once, copied, used and revoked; tenants made and
 * populated by root; and a user of another tenant who sees none of the first tenant's clusters, jobs or tokens.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { api } from "../helpers/manager.ts";
import { launchBrowser, openPage, signIn, signinByApi, signupByApi, startManager, type ConsoleManager, type WatchedPage } from "./support.ts";

setDefaultTimeout(120_000);
let manager: ConsoleManager;
let browser: Browser;
let root: WatchedPage;
let rootToken: string;
let clusterId: number;

beforeAll(async () => {
  [manager, browser] = await Promise.all([startManager(), launchBrowser()]);
  await signupByApi(manager.url, "root", "root-password-1");
  rootToken = await signinByApi(manager.url, "root", "root-password-1");
  // Things the default tenant owns, which another tenant must not see.
  const cluster = await api(manager.url, "POST", "/api/v1/clusters", { token: rootToken, body: { name: "red-cluster" } });
  expect(cluster.status).toBe(200);
  clusterId = cluster.body.id as number;
  const job = await api(manager.url, "POST", "/api/v1/jobs", { token: rootToken, body: { type: "preheat", args: { type: "file", url: "http://127.0.0.1:9/red.bin" }, scheduler_cluster_ids: [clusterId] } });
  expect(job.status).toBe(200);
  root = await openPage(browser, manager.url);
  await signIn(root, "root", "root-password-1");
});

afterAll(async () => {
  await root?.close();
  await browser?.close();
  await manager?.kill();
});

test("a new token is shown once with a copy button, works on /oapi, and stops working when revoked", async () => {
  const { page } = root;
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Access tokens" }).click();
  await page.getByRole("heading", { level: 1, name: "Access tokens" }).waitFor();
  await page.getByText("No tokens yet").waitFor();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("ci-token");
  await page.getByRole("textbox", { name: "Description", exact: true }).fill("for the release pipeline");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByTestId("new-token");
  await shown.waitFor();
  const token = await shown.innerText();
  expect(token).toMatch(/^lbl_[\w-]{20,}$/);
  await page.getByRole("button", { name: "Copy token" }).click();
  await page.getByRole("button", { name: "Copied", exact: true }).waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  await root.screenshot("token-created");

  expect((await api(manager.url, "GET", "/oapi/v1/jobs", { token })).status).toBe(200);
  // Shown once: after a reload only the prefix is left.
  await page.reload();
  const row = page.getByTestId("token-row").filter({ hasText: "ci-token" });
  await row.waitFor();
  expect(await page.getByTestId("new-token").count()).toBe(0);
  expect(await page.content()).not.toContain(token);

  await row.getByRole("button", { name: "Revoke ci-token" }).click();
  await page.getByRole("dialog", { name: 'Revoke "ci-token"?' }).getByRole("button", { name: "Revoke" }).click();
  await row.getByText("revoked").waitFor();
  await root.screenshot("token-revoked");
  const refused = await api(manager.url, "GET", "/oapi/v1/jobs", { token });
  expect(refused.status).toBe(403);
  expect(refused.body.message).toBe("Token is inactive");
  expect(root.problems).toEqual([]);
});

test("root makes a tenant and moves a user into it; that user sees none of the default tenant's clusters, jobs or tokens", async () => {
  const carolId = await signupByApi(manager.url, "carol", "carol-password-1");
  const { page } = root;
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tenants" }).click();
  await page.getByRole("heading", { level: 1, name: "Tenants" }).waitFor();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("blue");
  await page.getByRole("button", { name: "Create tenant" }).click();
  const blue = page.locator("section.card").filter({ has: page.getByRole("heading", { name: /^blue/ }) });
  await blue.waitFor();
  await blue.getByRole("combobox", { name: "Add a user" }).selectOption({ label: "carol (carol@example.test)" });
  await blue.getByRole("button", { name: "Add" }).click();
  await blue.getByRole("list", { name: "Members of blue" }).getByText("carol").waitFor();
  const defaults = page.locator("section.card").filter({ has: page.getByRole("heading", { name: /^default/ }) });
  await defaults.getByRole("button", { name: "Remove carol from default" }).click();
  await page.waitForFunction(() => !document.querySelector('[aria-label="Remove carol from default"]'));
  await root.screenshot("tenants");
  const members = await api(manager.url, "GET", "/api/v1/tenants/1/users", { token: rootToken });
  expect((members.body as { id: number }[]).map((m) => m.id)).not.toContain(carolId);
  expect(root.problems).toEqual([]);

  const carol = await openPage(browser, manager.url);
  await signIn(carol, "carol", "carol-password-1");
  await carol.page.getByText("guest · blue").waitFor();
  await carol.page.getByRole("list", { name: "Totals" }).getByRole("link", { name: /0\s*Clusters/ }).waitFor();
  await carol.screenshot("other-tenant-dashboard");
  await carol.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clusters" }).click();
  await carol.page.getByText("No clusters yet").waitFor();
  expect(await carol.page.getByText("red-cluster").count()).toBe(0);
  await carol.screenshot("other-tenant-clusters");
  await carol.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await carol.page.getByText("No jobs yet").waitFor();
  await carol.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Access tokens" }).click();
  await carol.page.getByText("No tokens yet").waitFor();
  // A direct link to the other tenant's cluster is "not found", not a leak.
  carol.allow(new RegExp(`/api/v1/clusters/${clusterId}$`), 404);
  await carol.page.goto(`/clusters/${clusterId}`);
  await carol.page.getByRole("alert").filter({ hasText: "Not found" }).waitFor();
  await carol.screenshot("other-tenant-not-found");
  expect(carol.problems).toEqual([]);
  await carol.close();
});
