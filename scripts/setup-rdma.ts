/**
 * Installs what the RDMA transport's tests use: libibverbs (the library the bindings load), its headers (for the
 * structure-offset check compiled with gcc) and rdma-core. Runs `apt-get update` once and `apt-get install` only
 * for what is missing; silent when everything is present. No RDMA device is needed or created.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Debian package → files it installs (any one present means installed), per multiarch directory. */
const PACKAGES: Record<string, string[]> = {
  libibverbs1: ["/usr/lib/x86_64-linux-gnu/libibverbs.so.1", "/usr/lib/aarch64-linux-gnu/libibverbs.so.1"],
  "libibverbs-dev": ["/usr/include/infiniband/verbs.h"],
  "rdma-core": ["/usr/sbin/rdma-ndd", "/lib/systemd/system/rdma-load-modules@.service", "/usr/share/doc/rdma-core"],
  gcc: ["/usr/bin/gcc"],
};

const missing = Object.entries(PACKAGES)
  .filter(([, files]) => !files.some((file) => existsSync(file)))
  .map(([name]) => name);

if (missing.length > 0) {
  if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) {
    console.warn(`setup-rdma: cannot install ${missing.join(", ")} without apt-get; the RDMA offsets check will be skipped`);
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
      console.error(`setup-rdma: "${args.join(" ")}" failed with exit code ${result.status}`);
      process.exit(1);
    }
  };
  console.log(`setup-rdma: installing ${missing.join(", ")}`);
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing]);
  const still = missing.filter((name) => !PACKAGES[name]!.some((file) => existsSync(file)));
  if (still.length > 0) {
    console.error(`setup-rdma: ${still.join(", ")} still missing after apt-get install`);
    process.exit(1);
  }
}
