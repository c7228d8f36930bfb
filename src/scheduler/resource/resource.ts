/** The scheduler's in-memory model: hosts, tasks and peers. */
import { HostManager } from "./host-manager.ts";
import { PeerManager } from "./peer-manager.ts";
import { TaskManager } from "./task-manager.ts";

/** Hosts, tasks and peers together. */
export interface Resource {
  readonly hosts: HostManager;
  readonly tasks: TaskManager;
  readonly peers: PeerManager;
}

/** An empty model. */
export function createResource(): Resource {
  return { hosts: new HostManager(), tasks: new TaskManager(), peers: new PeerManager() };
}
