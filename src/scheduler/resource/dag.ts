/** A directed acyclic graph of a task's peers: an edge parent → child is a current download relationship. */
import { FailedPrecondition, NotFound } from "../../common/errors.ts";

/** A vertex with its value and the IDs of its parents and children. */
export interface Vertex<T> {
  readonly id: string;
  readonly value: T;
  readonly parents: Set<string>;
  readonly children: Set<string>;
}

/** A DAG keyed by string IDs; adding an edge that would close a cycle throws. */
export class Dag<T> {
  private readonly vertices = new Map<string, Vertex<T>>();

  /** The number of vertices. */
  get size(): number {
    return this.vertices.size;
  }

  /** Adds a vertex; throws if the ID exists. */
  addVertex(id: string, value: T): Vertex<T> {
    if (this.vertices.has(id)) throw new FailedPrecondition(`Vertex "${id}" already exists`);
    const vertex: Vertex<T> = { id, value, parents: new Set(), children: new Set() };
    this.vertices.set(id, vertex);
    return vertex;
  }

  /** The vertex with this ID, if any. */
  getVertex(id: string): Vertex<T> | undefined {
    return this.vertices.get(id);
  }

  /** Whether a vertex exists. */
  hasVertex(id: string): boolean {
    return this.vertices.has(id);
  }

  /** All vertices, in insertion order. */
  getVertices(): IterableIterator<Vertex<T>> {
    return this.vertices.values();
  }

  /** Removes a vertex and every edge touching it. */
  deleteVertex(id: string): void {
    const vertex = this.vertices.get(id);
    if (!vertex) return;
    for (const parent of vertex.parents) this.vertices.get(parent)?.children.delete(id);
    for (const child of vertex.children) this.vertices.get(child)?.parents.delete(id);
    this.vertices.delete(id);
  }

  /** Up to `n` vertices chosen uniformly at random. */
  getRandomVertices(n: number): Vertex<T>[] {
    const all = [...this.vertices.values()];
    const count = Math.min(n, all.length);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(Math.random() * (all.length - i));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, count);
  }

  /** Vertices without parents. */
  getSourceVertices(): Vertex<T>[] {
    return [...this.vertices.values()].filter((v) => v.parents.size === 0);
  }

  /** Vertices without children. */
  getSinkVertices(): Vertex<T>[] {
    return [...this.vertices.values()].filter((v) => v.children.size === 0);
  }

  /** IDs reachable from `id` through children, `id` excluded. */
  private successors(id: string): Set<string> {
    const seen = new Set<string>();
    const stack = [id];
    while (stack.length > 0) {
      const vertex = this.vertices.get(stack.pop()!);
      if (!vertex) continue;
      for (const child of vertex.children) {
        if (!seen.has(child)) {
          seen.add(child);
          stack.push(child);
        }
      }
    }
    return seen;
  }

  /** Adds the edge from → to; throws on a self-loop, a duplicate, a missing vertex or a cycle. */
  addEdge(from: string, to: string): void {
    if (from === to) throw new FailedPrecondition(`Cannot add edge "${from}" → "${to}": self-loop`);
    const parent = this.vertices.get(from);
    const child = this.vertices.get(to);
    if (!parent) throw new NotFound(`Vertex "${from}" not found`);
    if (!child) throw new NotFound(`Vertex "${to}" not found`);
    if (parent.children.has(to)) throw new FailedPrecondition(`Cannot add edge "${from}" → "${to}": exists`);
    if (this.successors(to).has(from)) throw new FailedPrecondition(`Cannot add edge "${from}" → "${to}": cycle`);
    parent.children.add(to);
    child.parents.add(from);
  }

  /** The subset of `froms` that can each become a parent of `to`, computing `to`'s successors once. */
  canAddEdges(froms: readonly string[], to: string): string[] {
    const child = this.vertices.get(to);
    if (!child) return [];
    const successors = this.successors(to);
    return froms.filter((from) => from !== to && this.vertices.has(from) && !child.parents.has(from) && !successors.has(from));
  }

  /** Adds every allowed edge from `froms` to `to` and returns the parents actually added. */
  addEdges(froms: readonly string[], to: string): string[] {
    const allowed = this.canAddEdges(froms, to);
    const child = this.vertices.get(to);
    for (const from of allowed) {
      this.vertices.get(from)!.children.add(to);
      child!.parents.add(from);
    }
    return allowed;
  }

  /** Removes one edge if present. */
  deleteEdge(from: string, to: string): void {
    this.vertices.get(from)?.children.delete(to);
    this.vertices.get(to)?.parents.delete(from);
  }

  /** Removes every edge into `id`. */
  deleteVertexInEdges(id: string): void {
    const vertex = this.vertices.get(id);
    if (!vertex) return;
    for (const parent of vertex.parents) this.vertices.get(parent)?.children.delete(id);
    vertex.parents.clear();
  }

  /** Removes every edge out of `id`. */
  deleteVertexOutEdges(id: string): void {
    const vertex = this.vertices.get(id);
    if (!vertex) return;
    for (const child of vertex.children) this.vertices.get(child)?.parents.delete(id);
    vertex.children.clear();
  }

  /** The in-degree of a vertex (0 if missing). */
  inDegree(id: string): number {
    return this.vertices.get(id)?.parents.size ?? 0;
  }

  /** The out-degree of a vertex (0 if missing). */
  outDegree(id: string): number {
    return this.vertices.get(id)?.children.size ?? 0;
  }
}
