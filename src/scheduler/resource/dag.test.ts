import { expect, test } from "bun:test";
import { Dag } from "./dag.ts";

function chain(...ids: string[]): Dag<string> {
  const dag = new Dag<string>();
  for (const id of ids) dag.addVertex(id, id);
  for (let i = 1; i < ids.length; i++) dag.addEdge(ids[i - 1]!, ids[i]!);
  return dag;
}

test("Dag.addVertex() rejects a duplicate", () => {
  const dag = chain("a");
  expect(() => dag.addVertex("a", "a")).toThrow('Vertex "a" already exists');
});

test("Dag.addEdge() rejects self-loops, duplicates, missing vertices and cycles", () => {
  const dag = chain("a", "b", "c");
  expect(() => dag.addEdge("a", "a")).toThrow("self-loop");
  expect(() => dag.addEdge("a", "b")).toThrow("exists");
  expect(() => dag.addEdge("a", "zz")).toThrow('Vertex "zz" not found');
  expect(() => dag.addEdge("c", "a")).toThrow("cycle");
  expect(() => dag.addEdge("b", "a")).toThrow("cycle");
  dag.addEdge("a", "c");
  expect(dag.inDegree("c")).toBe(2);
  expect(dag.outDegree("a")).toBe(2);
});

test("Dag.canAddEdges() drops the child, unknown vertices, existing parents and descendants", () => {
  const dag = chain("a", "b", "c", "d");
  dag.addVertex("x", "x");
  dag.addVertex("y", "y");
  expect(dag.canAddEdges(["a", "b", "c", "d", "x", "nope"], "b").sort()).toEqual(["x"]);
  expect(dag.canAddEdges(["a", "x", "y"], "c").sort()).toEqual(["a", "x", "y"]);
  expect(dag.addEdges(["a", "x", "d"], "c").sort()).toEqual(["a", "x"]);
  expect([...dag.getVertex("c")!.parents].sort()).toEqual(["a", "b", "x"]);
});

test("Dag.deleteVertex() unlinks both sides; in- and out-edge deletion reset the sets", () => {
  const dag = chain("a", "b", "c");
  dag.deleteVertex("b");
  expect(dag.getVertex("a")!.children.size).toBe(0);
  expect(dag.getVertex("c")!.parents.size).toBe(0);
  dag.addEdge("a", "c");
  dag.addVertex("d", "d");
  dag.addEdge("c", "d");
  dag.deleteVertexInEdges("c");
  expect(dag.getVertex("a")!.children.has("c")).toBe(false);
  expect(dag.inDegree("c")).toBe(0);
  dag.deleteVertexOutEdges("c");
  expect(dag.inDegree("d")).toBe(0);
  expect(dag.getSourceVertices().map((v) => v.id).sort()).toEqual(["a", "c", "d"]);
  expect(dag.getSinkVertices().map((v) => v.id).sort()).toEqual(["a", "c", "d"]);
});

test("Dag.getRandomVertices() returns distinct vertices and samples all of them over time", () => {
  const dag = chain("a", "b", "c", "d", "e");
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const picked = dag.getRandomVertices(2).map((v) => v.id);
    expect(new Set(picked).size).toBe(2);
    for (const id of picked) seen.add(id);
  }
  expect(seen.size).toBe(5);
  expect(dag.getRandomVertices(10).length).toBe(5);
});
