/**
 * Generates `src/gen/` from `proto/` with buf and protoc-gen-es, and the SDK's copy of the dfdaemon protos in
 * `sdk/src/gen/`. `--check` generates into a temporary folder and fails when either differs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

/** Every generation target: a buf template, its output folder and the proto folders it takes. */
const TARGETS = [
  { template: "buf.gen.yaml", out: "src/gen", paths: [] as string[] },
  { template: "sdk/buf.gen.yaml", out: "sdk/src/gen", paths: ["proto/common", "proto/dfdaemon", "proto/errordetails"] },
];

function generate(outBase?: string): void {
  for (const target of TARGETS) {
    const paths = target.paths.flatMap((path) => ["--path", path]);
    const args = ["generate", "proto", "--template", target.template, ...paths, ...(outBase ? ["-o", outBase] : [])];
    const result = spawnSync(join(bin, "buf"), args, { cwd: root, env, stdio: "inherit" });
    if (result.status !== 0) throw new Error(`buf generate failed with exit code ${result.status}`);
  }
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
    let count = 0;
    const stale: string[] = [];
    for (const target of TARGETS) {
      const fresh = files(join(tmp, target.out));
      const committed = existsSync(join(root, target.out)) ? files(join(root, target.out)) : new Map<string, string>();
      count += fresh.size;
      for (const f of new Set([...fresh.keys(), ...committed.keys()])) if (fresh.get(f) !== committed.get(f)) stale.push(join(target.out, f));
    }
    if (stale.length > 0) {
      console.error(`Generated code is stale; run "npm run generate". Differs: ${stale.join(", ")}`);
      process.exit(1);
    }
    console.log(`Generated code is up to date (${count} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  generate();
  console.log("Generated src/gen and sdk/src/gen from proto/");
}
