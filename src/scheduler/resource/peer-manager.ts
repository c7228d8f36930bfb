/** The peers known to this scheduler; storing a peer links it into its task's DAG and its host. */
import { PeerEvent, PeerState, type Peer } from "./peer.ts";

/** Peers by ID. */
export class PeerManager {
  private readonly peers = new Map<string, Peer>();

  get size(): number {
    return this.peers.size;
  }

  load(id: string): Peer | undefined {
    return this.peers.get(id);
  }

  /** Adds a peer to the index, its task's DAG and its host. */
  store(peer: Peer): void {
    this.peers.set(peer.id, peer);
    peer.task.storePeer(peer);
    peer.host.peers.set(peer.id, peer);
  }

  /** Marks a peer Leave (if it has not left) and removes it everywhere; returns the children it had. */
  delete(id: string): Peer[] {
    const peer = this.peers.get(id);
    if (!peer) return [];
    if (peer.state !== PeerState.Leave) peer.event(PeerEvent.Leave);
    this.peers.delete(id);
    peer.host.peers.delete(id);
    peer.scheduleGeneration++;
    return peer.task.deletePeer(id);
  }

  all(): Peer[] {
    return [...this.peers.values()];
  }
}
