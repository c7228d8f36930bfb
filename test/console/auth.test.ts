/** The console's accounts: first sign-up becomes root, sign-in and sign-out, a revoked session, password change. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser } from "playwright-core";
import { api } from "../helpers/manager.ts";
import { launchBrowser, openPage, signIn, startManager, type ConsoleManager } from "./support.ts";

setDefaultTimeout(120_000);
let manager: ConsoleManager;
let browser: Browser;

beforeAll(async () => {
  [manager, browser] = await Promise.all([startManager(), launchBrowser()]);
});

afterAll(async () => {
  await browser?.close();
  await manager?.kill();
});

test("the manager serves the console at / and at deep links, and the API's 404 stays JSON", async () => {
  const root = await fetch(`${manager.url}/`);
  expect(root.status).toBe(200);
  expect(root.headers.get("content-type")).toContain("text/html");
  const html = await root.text();
  expect(html).toContain('<div id="app"></div>');
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(script).toBeDefined();
  const js = await fetch(`${manager.url}${script}`);
  expect(js.status).toBe(200);
  expect(js.headers.get("content-type")).toContain("javascript");
  expect(js.headers.get("cache-control")).toContain("immutable");
  const deep = await fetch(`${manager.url}/clusters/7/edit`);
  expect(deep.status).toBe(200);
  expect(await deep.text()).toBe(html);
  const missingAsset = await fetch(`${manager.url}/assets/nothing.js`);
  expect(missingAsset.status).toBe(404);
  const missingApi = await fetch(`${manager.url}/api/v1/nothing-here`);
  expect(missingApi.status).toBe(404);
  expect(await missingApi.json()).toEqual({ message: 'Not found: "/api/v1/nothing-here"' });
});

test("the first account signs up as root; a later one is a guest; sign-out and a wrong password", async () => {
  const first = await openPage(browser, manager.url);
  const { page } = first;
  await page.goto("/");
  await page.waitForURL(/\/signin$/);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await expect(page.getByText("the first account becomes the administrator (root)")).toBeTruthy();
  await first.screenshot("signin");

  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("alice");
  await page.getByRole("textbox", { name: "Email", exact: true }).fill("alice@example.test");
  await page.getByRole("textbox", { name: "Password", exact: true }).fill("alice-password-1");
  await page.getByRole("textbox", { name: "Repeat the password", exact: true }).fill("alice-password-1");
  await first.screenshot("signup");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  await page.getByText("root · all tenants").waitFor();
  await page.getByRole("heading", { name: "Getting started" }).waitFor();
  await first.screenshot("dashboard-first-run");

  // A second account made in another browser is a guest of the default tenant.
  const second = await openPage(browser, manager.url);
  await second.page.goto("/signup");
  await second.page.getByRole("textbox", { name: "Name", exact: true }).fill("bob");
  await second.page.getByRole("textbox", { name: "Email", exact: true }).fill("bob@example.test");
  await second.page.getByRole("textbox", { name: "Password", exact: true }).fill("bob-password-12");
  await second.page.getByRole("textbox", { name: "Repeat the password", exact: true }).fill("bob-password-12");
  await second.page.getByRole("button", { name: "Create account" }).click();
  await second.page.getByText("guest · default").waitFor();
  // A guest is not offered user or role administration.
  expect(await second.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).count()).toBe(0);
  expect(second.problems).toEqual([]);
  await second.close();

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  first.allow(/\/api\/v1\/users\/signin$/, 401);
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("alice");
  await page.getByRole("textbox", { name: "Password", exact: true }).fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "Incorrect name or password" }).waitFor();
  await first.screenshot("signin-wrong-password");
  await page.getByRole("textbox", { name: "Password", exact: true }).fill("alice-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  expect(first.problems).toEqual([]);
  await first.close();
});

test("a deep link survives sign-in, and a session revoked elsewhere sends the user back to sign in with the reason", async () => {
  const watched = await openPage(browser, manager.url);
  const { page } = watched;
  await page.goto("/jobs?state=FAILURE");
  await page.waitForURL(/\/signin\?next=/);
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("alice");
  await page.getByRole("textbox", { name: "Password", exact: true }).fill("alice-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Job history" }).waitFor();
  expect(new URL(page.url()).search).toBe("?state=FAILURE");

  // Sign the session out behind the console's back, as another tab or an administrator would.
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("libellula.session") ?? "{}").token as string);
  expect((await api(manager.url, "POST", "/api/v1/users/signout", { token })).status).toBe(200);
  watched.allow(/\/api\/v1\//, 401);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clusters" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByText("You were signed out").waitFor();
  await watched.screenshot("session-ended");
  expect(watched.problems).toEqual([]);
  await watched.close();
});

test("changing the password ends the session; the new password signs in and the old one no longer does", async () => {
  const watched = await openPage(browser, manager.url);
  const { page } = watched;
  await signIn(watched, "alice", "alice-password-1");
  await page.getByRole("link", { name: "Your profile: alice" }).click();
  await page.getByRole("heading", { level: 1, name: "Your profile" }).waitFor();
  await page.getByRole("textbox", { name: "Current password", exact: true }).fill("alice-password-1");
  await page.getByRole("textbox", { name: "New password", exact: true }).fill("alice-password-2");
  await page.getByRole("textbox", { name: "Repeat the new password", exact: true }).fill("alice-password-2");
  await watched.screenshot("profile");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Your password was changed. Sign in with the new one.").waitFor();
  await signIn(watched, "alice", "alice-password-2");
  expect((await api(manager.url, "POST", "/api/v1/users/signin", { body: { name: "alice", password: "alice-password-1" } })).status).toBe(401);
  expect(watched.problems).toEqual([]);
  await watched.close();
});

test("on a phone-sized screen the navigation folds into a menu button that opens it", async () => {
  const watched = await openPage(browser, manager.url, { width: 390, height: 800 });
  const { page } = watched;
  await signIn(watched, "alice", "alice-password-2");
  const nav = page.getByRole("navigation", { name: "Main" });
  expect(await nav.isVisible()).toBe(false);
  const menu = page.getByRole("button", { name: "Menu" });
  await menu.click();
  expect(await menu.getAttribute("aria-expanded")).toBe("true");
  await nav.getByRole("link", { name: "Access tokens" }).waitFor();
  await watched.screenshot("mobile-menu");
  await nav.getByRole("link", { name: "Access tokens" }).click();
  await page.getByRole("heading", { level: 1, name: "Access tokens" }).waitFor();
  // Following a link folds the menu again (the page may render before the menu state does).
  await nav.waitFor({ state: "hidden", timeout: 5_000 });
  await watched.screenshot("mobile-tokens");
  expect(watched.problems).toEqual([]);
  await watched.close();
});
