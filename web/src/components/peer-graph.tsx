/**
 * A task's peer graph: who got pieces from whom. Peers are laid out in columns by distance from the source
 * (seed peers and back-to-source peers first); an edge's width follows the bytes it carried. A table below
 * says the same for screen readers and for copying.
 */
import { useMemo } from "preact/hooks";
import { formatBytes } from "../pages/job-detail.tsx";

/** A host that took part in the task, or the origin (`host_type` "origin"). */
export interface GraphPeer {
  id: string;
  hostname: string;
  ip: string;
  host_type: string;
  received_bytes: number;
  served_bytes: number;
  pieces: number;
}

/** Pieces one node served another. */
export interface GraphEdge {
  parent: string;
  child: string;
  pieces: number;
  bytes: number;
}

/** The graph as the manager returns it. */
export interface TaskGraph {
  task_id: string;
  peers: GraphPeer[];
  edges: GraphEdge[];
}

const NODE_W = 170;
const NODE_H = 44;
const COL_GAP = 90;
const ROW_GAP = 18;

/** Column of each peer: longest path from a peer that has no parent. */
export function layers(peers: GraphPeer[], edges: GraphEdge[]): Map<string, number> {
  const parents = new Map<string, string[]>();
  for (const e of edges) parents.set(e.child, [...(parents.get(e.child) ?? []), e.parent]);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const of = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: cut it here
    visiting.add(id);
    const ps = parents.get(id) ?? [];
    const d = ps.length === 0 ? 0 : Math.max(...ps.map(of)) + 1;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const p of peers) of(p.id);
  return depth;
}

/** The graph drawing and its table. */
export function PeerGraph(props: { graph: TaskGraph }) {
  const { peers, edges } = props.graph;
  const layout = useMemo(() => {
    const depth = layers(peers, edges);
    const columns: GraphPeer[][] = [];
    for (const p of peers) (columns[depth.get(p.id) ?? 0] ??= []).push(p);
    const position = new Map<string, { x: number; y: number }>();
    columns.forEach((column, c) =>
      column
        .sort((a, b) => a.hostname.localeCompare(b.hostname))
        .forEach((p, r) => position.set(p.id, { x: 10 + c * (NODE_W + COL_GAP), y: 10 + r * (NODE_H + ROW_GAP) })),
    );
    const rows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
    return { position, width: 20 + columns.length * (NODE_W + COL_GAP) - COL_GAP, height: 20 + rows * (NODE_H + ROW_GAP) - ROW_GAP };
  }, [peers, edges]);
  const maxBytes = Math.max(1, ...edges.map((e) => e.bytes));
  const byId = new Map(peers.map((p) => [p.id, p]));
  const name = (id: string) => byId.get(id)?.hostname ?? id;

  return (
    <div class="graph">
      <div class="graph-scroll">
        <svg width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`} role="img" aria-label={`Peer graph of ${peers.length} peers and ${edges.length} transfers; the table below lists them`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class="graph-arrow" />
            </marker>
          </defs>
          {edges.map((e, i) => {
            const from = layout.position.get(e.parent);
            const to = layout.position.get(e.child);
            if (!from || !to) return null;
            const x1 = from.x + NODE_W;
            const y1 = from.y + NODE_H / 2;
            const x2 = to.x;
            const y2 = to.y + NODE_H / 2;
            const mid = (x1 + x2) / 2;
            const width = 1 + 5 * (e.bytes / maxBytes);
            return (
              <path key={i} d={`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2 - 2} ${y2}`} class="graph-edge" stroke-width={width} marker-end="url(#arrow)">
                <title>
                  {name(e.parent)} → {name(e.child)}: {e.pieces} pieces, {formatBytes(e.bytes)}
                </title>
              </path>
            );
          })}
          {peers.map((p) => {
            const at = layout.position.get(p.id);
            if (!at) return null;
            const origin = p.host_type === "origin";
            const seed = !origin && p.host_type !== "normal";
            const sub = origin ? `↑ ${formatBytes(p.served_bytes)}` : `↓ ${formatBytes(p.received_bytes)}${p.served_bytes > 0 ? `  ↑ ${formatBytes(p.served_bytes)}` : ""}`;
            return (
              <g key={p.id} transform={`translate(${at.x} ${at.y})`} class={`graph-node ${seed ? "seed" : ""} ${origin ? "origin" : ""}`} data-testid="graph-node">
                <rect width={NODE_W} height={NODE_H} rx={8} />
                <text x={10} y={18} class="graph-name">
                  {p.hostname.length > 18 ? `${p.hostname.slice(0, 17)}…` : p.hostname}
                </text>
                <text x={10} y={34} class="graph-sub">
                  {seed ? "seed · " : ""}
                  {sub}
                </text>
                <title>
                  {origin
                    ? `The origin (back-to-source): served ${formatBytes(p.served_bytes)}`
                    : `${p.hostname} (${p.ip}), ${p.host_type}: received ${p.pieces} pieces, ${formatBytes(p.received_bytes)}; served ${formatBytes(p.served_bytes)}`}
                </title>
              </g>
            );
          })}
        </svg>
      </div>
      <p class="hint">↓ bytes received, ↑ bytes served; an arrow's width follows the bytes it carried.</p>
      <div class="table-wrap">
        <table aria-label="Transfers between peers">
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Pieces</th>
              <th scope="col">Bytes</th>
            </tr>
          </thead>
          <tbody>
            {edges.length === 0 ? (
              <tr>
                <td colSpan={4} class="muted">
                  No transfers recorded for this task.
                </td>
              </tr>
            ) : (
              edges.map((e, i) => (
                <tr key={i} data-testid="graph-edge">
                  <td>{name(e.parent)}</td>
                  <td>{name(e.child)}</td>
                  <td>{e.pieces}</td>
                  <td>{formatBytes(e.bytes)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}
