/**
 * PGlite's WebAssembly modules and data bundle as embedded files. `bun build --compile` puts files imported this
 * way into the executable; PGlite's own lookup of files beside its module would find nothing there. Bun only
 * (import attributes of type "file"), so only the compiled binary's entry imports it.
 */
import type { PGliteOptions } from "@electric-sql/pglite";
import initdbWasm from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import pgliteData from "@electric-sql/pglite/pglite.data" with { type: "file" };
import pgliteWasm from "@electric-sql/pglite/pglite.wasm" with { type: "file" };
import { readFile } from "node:fs/promises";

let loading: Promise<PGliteOptions> | undefined;

async function compile(path: string): Promise<WebAssembly.Module> {
  return await WebAssembly.compile(await readFile(path));
}

/** PGlite options that load its files from the embedded copies; compiled once per process. */
export function embeddedPgliteOptions(): Promise<PGliteOptions> {
  loading ??= (async () => {
    const [pgliteWasmModule, initdbWasmModule, data] = await Promise.all([compile(pgliteWasm), compile(initdbWasm), readFile(pgliteData)]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: new Blob([data]) };
  })();
  return loading;
}
