/** The console's sources typecheck, and the committed build (web/dist) is what `npm run build:web` makes from them. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/processes.ts";

setDefaultTimeout(120_000);
const bin = join(ROOT, "node_modules", ".bin");

function run(command: string, args: string[]) {
  // bun test sets NODE_ENV=test; the build is made as `npm run build:web` makes it.
  const result = spawnSync(join(bin, command), args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, NODE_ENV: "production" } });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

test("web/ typechecks with its own tsconfig", () => {
  const result = run("tsc", ["--noEmit", "-p", "web"]);
  expect(result.output).toBe("");
  expect(result.code).toBe(0);
});

test("the committed web/dist is exactly what the build makes (run npm run build:web when this fails)", () => {
  const out = join(tempDir("libellula-console-build-"), "dist");
  const build = run("vite", ["build", "--config", "web/vite.config.ts", "--outDir", out, "--emptyOutDir"]);
  expect(build.code).toBe(0);
  const embed = run("bun", ["web/embed.ts", out]);
  expect(embed.code).toBe(0);
  const fresh = readFileSync(join(out, "console-assets.ts"), "utf8");
  const committed = readFileSync(join(ROOT, "web", "dist", "console-assets.ts"), "utf8");
  expect(fresh.length).toBeGreaterThan(10_000);
  expect(fresh === committed).toBe(true);
});
