/**
 * Builds the publishable package: JavaScript and declarations in `dist/` (or the folder given with `--out`), with a
 * package.json whose exports point at them, and the README and examples. Publish with `npm publish sdk/dist`.
 */
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const sdk = import.meta.dirname;
const root = join(sdk, "..");
const outFlag = process.argv.indexOf("--out");
const out = resolve(outFlag >= 0 && process.argv[outFlag + 1] ? process.argv[outFlag + 1]! : join(sdk, "dist"));

rmSync(out, { recursive: true, force: true });
const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(sdk, "tsconfig.build.json"), "--outDir", join(out, "lib")], { stdio: "inherit" });
if (tsc.status !== 0) {
  console.error(`tsc failed with exit code ${tsc.status}`);
  process.exit(1);
}

// Declarations keep the sources' `.ts` specifiers; consumers resolve the emitted `.d.ts` through `.js` ones.
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
for (const file of walk(join(out, "lib")).filter((f) => f.endsWith(".d.ts"))) {
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(/(["'])(\.{1,2}\/[^"']*?)\.ts\1/g, "$1$2.js$1");
  if (fixed !== text) writeFileSync(file, fixed);
}

/** The source package.json with exports moved from the TypeScript sources to the built files. */
const manifest = JSON.parse(readFileSync(join(sdk, "package.json"), "utf8")) as Record<string, unknown>;
const entry = (name: string) => ({ types: `./lib/${name}/index.d.ts`, default: `./lib/${name}/index.js` });
manifest.exports = { "./dfdaemon": entry("dfdaemon"), "./manager": entry("manager"), "./package.json": "./package.json" };
manifest.files = ["lib", "README.md", "examples"];
delete manifest.scripts;
writeFileSync(join(out, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
cpSync(join(sdk, "README.md"), join(out, "README.md"));
cpSync(join(sdk, "examples"), join(out, "examples"), { recursive: true });
console.log(`Built @libellula/sdk into ${out}`);
