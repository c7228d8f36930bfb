/** Writes a generated file, or with `--check` fails when the committed one differs from what would be written. */
import { readFileSync, writeFileSync } from "node:fs";

/** Writes `fresh` to `target` (named `label` in messages), or checks it when the command line has `--check`. */
export function writeOrCheck(target: string, fresh: string, label: string, regenerate: string): void {
  if (!process.argv.includes("--check")) {
    writeFileSync(target, fresh);
    console.log(`Wrote ${label}`);
    return;
  }
  let committed = "";
  try {
    committed = readFileSync(target, "utf8");
  } catch {
    // A missing file counts as stale.
  }
  if (committed !== fresh) {
    console.error(`${label} is stale; run "${regenerate}"`);
    process.exit(1);
  }
  console.log(`${label} is up to date`);
}
