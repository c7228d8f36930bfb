/**
 * Runs every test: generated-code and OpenAPI freshness, the typecheck, then unit and end-to-end
 * tests with bun:test. Ends with one "N passed, N failed" line.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

function step(name: string, command: string, args: string[]): void {
  console.log(`\n== ${name}`);
  const result = spawnSync(command, args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`\n${name} failed (exit code ${result.status})`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}

// Every scripts/setup-*.ts installs what some tests need (Debian packages through apt-get), idempotently.
for (const script of readdirSync(join(root, "scripts")).filter((f) => /^setup-.*\.ts$/.test(f)).sort()) {
  step(`Setup (${script})`, join(bin, "bun"), [join("scripts", script)]);
}
step("Generated code", join(bin, "bun"), ["scripts/codegen.ts", "--check"]);
if (existsSync(join(root, "scripts/openapi.ts"))) step("OpenAPI document", join(bin, "bun"), ["scripts/openapi.ts", "--check"]);
step("SDK manager types", join(bin, "bun"), ["scripts/sdk-gen.ts", "--check"]);
step("Typecheck", join(bin, "tsc"), ["--noEmit", "-p", "."]);

console.log("\n== Unit and end-to-end tests");
const extra = process.argv.slice(2);
const child = spawn(join(bin, "bun"), ["test", "--timeout", "120000", ...(extra.length > 0 ? extra : ["src", "test"])], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
let tail = "";
const keep = (chunk: Buffer, out: NodeJS.WriteStream) => {
  out.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
};
child.stdout.on("data", (c: Buffer) => keep(c, process.stdout));
child.stderr.on("data", (c: Buffer) => keep(c, process.stderr));
const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
const passed = Number(/(\d+) pass\b/.exec(tail)?.[1] ?? 0);
const failed = Number(/(\d+) fail\b/.exec(tail)?.[1] ?? (code === 0 ? 0 : 1));
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(code !== 0 || failed > 0 || passed === 0 ? 1 : 0);
