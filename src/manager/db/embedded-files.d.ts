/** Files that `with { type: "file" }` imports resolve to a path (embedded in a compiled binary). */
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.data" {
  const path: string;
  export default path;
}
