/**
 * Installs Debian's Chromium for the console's browser tests: runs `apt-get update` once and `apt-get install`
 * only when /usr/bin/chromium is missing. Silent when it is present.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Where the browser tests expect Chromium. */
const CHROMIUM = "/usr/bin/chromium";

if (!existsSync(CHROMIUM)) {
  if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) {
    console.warn(`setup-chromium: cannot install chromium without apt-get; the console's browser tests will fail`);
    process.exit(0);
  }
  const asRoot = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  const run = (args: string[]) => {
    const [command, ...rest] = [...asRoot, ...args];
    const result = spawnSync(command!, rest, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) {
      process.stderr.write(result.stdout);
      process.stderr.write(result.stderr);
      console.error(`setup-chromium: "${args.join(" ")}" failed with exit code ${result.status}`);
      process.exit(1);
    }
  };
  console.log("setup-chromium: installing chromium");
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]);
  if (!existsSync(CHROMIUM)) {
    console.error(`setup-chromium: ${CHROMIUM} still missing after apt-get install`);
    process.exit(1);
  }
}
