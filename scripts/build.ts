/** Builds one self-contained executable, dist/libellula, that runs every command. */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const outfile = join(root, "dist", "libellula");
mkdirSync(join(root, "dist"), { recursive: true });
const result = spawnSync(
  join(root, "node_modules", ".bin", "bun"),
  ["build", "--compile", "--minify", "--sourcemap", join(root, "src", "cli", "libellula.ts"), "--outfile", outfile],
  { cwd: root, stdio: "inherit" },
);
if (result.status !== 0) process.exit(result.status ?? 1);
console.log(`Built ${outfile}: run "${outfile} <command> --help" (commands: dfdaemon, dfget, scheduler, …)`);
