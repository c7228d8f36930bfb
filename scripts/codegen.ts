/**
 * Generates `src/gen/` from `proto/` with buf and protoc-gen-es.
 * `--check` generates into a temporary folder and fails when `src/gen/` differs.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

function generate(outBase?: string): void {
  const args = ["generate", "proto", "--template", "buf.gen.yaml", ...(outBase ? ["-o", outBase] : [])];
  const result = spawnSync(join(bin, "buf"), args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`buf generate failed with exit code ${result.status}`);
}

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return out;
}

if (process.argv.includes("--check")) {
  const tmp = mkdtempSync(join(tmpdir(), "libellula-gen-"));
  try {
    generate(tmp);
    const fresh = files(join(tmp, "src", "gen"));
    const committed = files(join(root, "src", "gen"));
    const stale = [...new Set([...fresh.keys(), ...committed.keys()])].filter((f) => fresh.get(f) !== committed.get(f));
    if (stale.length > 0) {
      console.error(`Generated code is stale; run "npm run generate". Differs: ${stale.join(", ")}`);
      process.exit(1);
    }
    console.log(`Generated code is up to date (${fresh.size} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  generate();
  console.log("Generated src/gen from proto/");
}
