/**
 * Installs the Debian packages the end-to-end tests use (an OCI registry, an image copier, kubectl and
 * systemd-analyze for the deployment files), running
 * `apt-get update` once and `apt-get install` only for what is missing. Silent when everything is present.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** `kubectl` where an apt source offers it (recent kustomize), else Debian's own kubernetes-client. */
function kubectlPackage(): string {
  const policy = spawnSync("apt-cache", ["policy", "kubectl"], { encoding: "utf8" });
  return /Candidate: (?!\(none\))/.test(policy.stdout ?? "") ? "kubectl" : "kubernetes-client";
}

/** Debian package → a file it installs, used to tell whether it is present. */
const PACKAGES: Record<string, string> = {
  "docker-registry": "/usr/bin/docker-registry",
  skopeo: "/usr/bin/skopeo",
  maven: "/usr/bin/mvn",
  // test/e2e/acceptance-readme-curl runs the README's curl commands as written.
  curl: "/usr/bin/curl",
  // deploy/kubernetes: `kubectl kustomize` renders the overlays; systemd-analyze verifies deploy/systemd units.
  ...(existsSync("/usr/bin/kubectl") ? {} : { [kubectlPackage()]: "/usr/bin/kubectl" }),
  systemd: "/usr/bin/systemd-analyze",
};

const missing = Object.entries(PACKAGES)
  .filter(([, file]) => !existsSync(file))
  .map(([name]) => name);

if (missing.length > 0) {
  if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) {
    console.warn(`setup-system: cannot install ${missing.join(", ")} without apt-get; the tests that need them will fail`);
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
      console.error(`setup-system: "${args.join(" ")}" failed with exit code ${result.status}`);
      process.exit(1);
    }
  };
  console.log(`setup-system: installing ${missing.join(", ")}`);
  run(["apt-get", "update", "-qq"]);
  run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...missing]);
  const still = missing.filter((name) => !existsSync(PACKAGES[name]!));
  if (still.length > 0) {
    console.error(`setup-system: ${still.join(", ")} still missing after apt-get install`);
    process.exit(1);
  }
}
