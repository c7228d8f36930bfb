/** The hosts known to this scheduler, with seeds kept apart from normal hosts. */
import type { Host } from "./host.ts";

/** Hosts by ID. */
export class HostManager {
  private readonly hosts = new Map<string, Host>();

  get size(): number {
    return this.hosts.size;
  }

  load(id: string): Host | undefined {
    return this.hosts.get(id);
  }

  store(host: Host): void {
    this.hosts.set(host.id, host);
  }

  delete(id: string): void {
    this.hosts.delete(id);
  }

  all(): Host[] {
    return [...this.hosts.values()];
  }

  /** Seed hosts (type ≠ 0). */
  seeds(): Host[] {
    return this.all().filter((h) => h.isSeed);
  }

  /** Normal hosts (type 0). */
  normals(): Host[] {
    return this.all().filter((h) => !h.isSeed);
  }
}
