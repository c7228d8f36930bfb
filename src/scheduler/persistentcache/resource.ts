/** The persistent cache tasks and peers this scheduler knows, in memory. */
import type { PersistentCachePeer } from "./peer.ts";
import type { PersistentCacheTask } from "./task.ts";

/** Persistent cache tasks by ID, each with its peers; peers also by ID. */
export class PersistentCacheResource {
  private readonly tasks = new Map<string, PersistentCacheTask>();
  private readonly peers = new Map<string, PersistentCachePeer>();

  /** Number of tasks. */
  get taskCount(): number {
    return this.tasks.size;
  }

  loadTask(id: string): PersistentCacheTask | undefined {
    return this.tasks.get(id);
  }

  storeTask(task: PersistentCacheTask): void {
    this.tasks.set(task.id, task);
  }

  /** Forgets a task and its peers; its replications are aborted. */
  deleteTask(id: string): PersistentCacheTask | undefined {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    for (const peer of task.peers.values()) this.peers.delete(peer.id);
    task.peers.clear();
    task.controller.abort();
    this.tasks.delete(id);
    return task;
  }

  allTasks(): PersistentCacheTask[] {
    return [...this.tasks.values()];
  }

  loadPeer(id: string): PersistentCachePeer | undefined {
    return this.peers.get(id);
  }

  /** Stores a peer and links it to its task. */
  storePeer(peer: PersistentCachePeer): void {
    this.peers.set(peer.id, peer);
    peer.task.peers.set(peer.id, peer);
  }

  /** Forgets a peer. */
  deletePeer(peer: PersistentCachePeer): void {
    this.peers.delete(peer.id);
    if (peer.task.peers.get(peer.id) === peer) peer.task.peers.delete(peer.id);
  }

  allPeers(): PersistentCachePeer[] {
    return [...this.peers.values()];
  }
}
