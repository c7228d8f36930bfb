/** System tools the benches need, installed with apt-get when missing. */
import { run } from "./proc.ts";

/** Debian package that provides each tool. */
const PACKAGES: Record<string, string> = {
  ip: "iproute2",
  tc: "iproute2",
  curl: "curl",
};

/** Throws a clear error unless the bench runs as root. */
export function requireRoot(what: string): void {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new Error(`${what} needs root (network namespaces, veth, tc): run it with sudo, e.g. "sudo npm run bench:p2p"`);
  }
}

/** Installs the packages behind any of `tools` that are not on PATH (the sbin folders included). */
export async function ensureTools(tools: string[]): Promise<void> {
  addSbinToPath();
  const missing = tools.filter((tool) => Bun.which(tool) === null);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => PACKAGES[tool] ?? tool))];
  console.log(`Installing ${packages.join(", ")} (missing: ${missing.join(", ")})…`);
  if (Bun.which("apt-get") === null) throw new Error(`Missing ${missing.join(", ")} and no apt-get to install ${packages.join(", ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const cmd of [["apt-get", "update"], ["apt-get", "install", "-y", ...packages]]) {
    const result = await run(cmd, { env });
    if (result.code !== 0) throw new Error(`"${cmd.join(" ")}" failed (exit ${result.code}): ${result.stderr.trim().split("\n").slice(-5).join("\n")}`);
  }
  const still = tools.filter((tool) => Bun.which(tool) === null);
  if (still.length > 0) throw new Error(`Still missing after installing ${packages.join(", ")}: ${still.join(", ")}`);
}

/** `ip` and `tc` live in /usr/sbin, which a non-login PATH may lack. */
function addSbinToPath(): void {
  const parts = (process.env.PATH ?? "").split(":").filter(Boolean);
  for (const dir of ["/usr/local/sbin", "/usr/sbin", "/sbin"]) if (!parts.includes(dir)) parts.push(dir);
  process.env.PATH = parts.join(":");
}
