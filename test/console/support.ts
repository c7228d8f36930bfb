/**
 * What the console's browser tests share: a fresh manager on PGlite (no root password, so the first sign-up
 * becomes root), headless Chromium from Debian driven by playwright-core, a watch on console errors and failed
 * requests, and screenshots into test-results/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { api } from "../helpers/manager.ts";
import { freePort, ROOT, spawnDaemon, tempDir, type Daemon } from "../helpers/processes.ts";

/** Debian's Chromium (scripts/setup-chromium.ts installs it). */
export const CHROMIUM = "/usr/bin/chromium";
/** Where screenshots go; the test run keeps the folder. */
export const RESULTS = join(ROOT, "test-results");

/** A manager for one test file. */
export interface ConsoleManager extends Daemon {
  url: string;
  grpc: string;
}

/** Starts bin/manager on free ports with an empty PGlite data directory and no root account. */
export async function startManager(): Promise<ConsoleManager> {
  const [http, grpc] = [await freePort(), await freePort()];
  // Other suites in this process set a root password; this manager must start without one. spawnDaemon reads
  // the environment synchronously when called, so it is unset only for that moment.
  const saved = { libellula: process.env.LIBELLULA_INITIAL_ROOT_PASSWORD, dragonfly: process.env.DRAGONFLY_INITIAL_ROOT_PASSWORD };
  delete process.env.LIBELLULA_INITIAL_ROOT_PASSWORD;
  delete process.env.DRAGONFLY_INITIAL_ROOT_PASSWORD;
  const started = spawnDaemon("manager", ["--port", String(http), "--grpc-port", String(grpc), "--data-dir", join(tempDir("libellula-console-"), "manager")], /^Listening$/, 60_000);
  if (saved.libellula !== undefined) process.env.LIBELLULA_INITIAL_ROOT_PASSWORD = saved.libellula;
  if (saved.dragonfly !== undefined) process.env.DRAGONFLY_INITIAL_ROOT_PASSWORD = saved.dragonfly;
  const daemon = await started;
  return { ...daemon, url: `http://127.0.0.1:${http}`, grpc: `127.0.0.1:${grpc}` };
}

/** Launches headless Chromium; Playwright gives every launch a fresh, empty --user-data-dir of its own. */
export async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A page whose console errors and failed requests are collected. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Problems seen so far, other than the expected ones. */
  problems: string[];
  /** Accepts failures of requests whose URL matches (e.g. a wrong password's 401). */
  allow(url: RegExp, status: number): void;
  /** Saves a full-page screenshot as test-results/console-<name>.png. */
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens a page in a new context (its own storage, so its own session). */
export async function openPage(browser: Browser, base: string, options: { width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({
    baseURL: base,
    viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const allowed: { url: RegExp; status: number }[] = [];
  const expected = (url: string, status: number) => allowed.some((a) => a.status === status && a.url.test(url));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const url = message.location().url ?? "";
    const status = /status of (\d{3})/.exec(message.text())?.[1];
    if (status && expected(url, Number(status))) return;
    problems.push(`console error: ${message.text()} (${url})`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    // Navigations away abort requests in flight; those are not failures of the console.
    if (request.failure()?.errorText === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on("response", (response) => {
    if (response.status() < 400 || expected(response.url(), response.status())) return;
    problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  return {
    page,
    context,
    problems,
    allow: (url, status) => allowed.push({ url, status }),
    async screenshot(name) {
      mkdirSync(RESULTS, { recursive: true });
      // From the top, so the sticky header sits where a reader expects it in a full-page picture.
      await page.evaluate(() => scrollTo(0, 0));
      await page.screenshot({ path: join(RESULTS, `console-${name}.png`), fullPage: true });
    },
    close: () => context.close(),
  };
}

/** Signs up through the API (for users a test needs but does not watch sign up). */
export async function signupByApi(base: string, name: string, password: string): Promise<number> {
  const answer = await api(base, "POST", "/api/v1/users/signup", { body: { name, password, email: `${name}@example.test` } });
  if (answer.status !== 200) throw new Error(`Cannot sign up ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.id as number;
}

/** Signs in through the API and returns the session token. */
export async function signinByApi(base: string, name: string, password: string): Promise<string> {
  const answer = await api(base, "POST", "/api/v1/users/signin", { body: { name, password } });
  if (answer.status !== 200) throw new Error(`Cannot sign in ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.token as string;
}

/** Signs in through the console's form and waits for the dashboard. */
export async function signIn(watched: WatchedPage, name: string, password: string): Promise<void> {
  const { page } = watched;
  await page.goto("/signin");
  await page.getByRole("textbox", { name: "Name", exact: true }).fill(name);
  await page.getByRole("textbox", { name: "Password", exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
}
