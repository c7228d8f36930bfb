import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONSTANTS, STRUCTS } from "./layout.ts";

const HEADER = "/usr/include/infiniband/verbs.h";
const gcc = spawnSync("gcc", ["--version"]).status === 0;
const headers = existsSync(HEADER);
const missing = [!gcc && "gcc", !headers && `${HEADER} (Debian libibverbs-dev)`].filter(Boolean).join(" and ");
if (missing) console.warn(`Skipping the RDMA layout check: ${missing} missing even after scripts/setup-rdma.ts`);

/** A C program printing `name value` for every size, offset and constant the bindings use. */
function program(): string {
  const lines = ["#include <stddef.h>", "#include <stdio.h>", `#include <infiniband/verbs.h>`, "int main(void) {"];
  for (const [name, layout] of Object.entries(STRUCTS)) {
    if (layout.size >= 0) lines.push(`  printf("${name} sizeof %zu\\n", sizeof(struct ${name}));`);
    for (const field of Object.keys(layout.fields)) {
      lines.push(`  printf("${name} ${field} %zu\\n", offsetof(struct ${name}, ${field}));`);
    }
  }
  for (const name of Object.keys(CONSTANTS)) lines.push(`  printf("const ${name} %ld\\n", (long)(${name}));`);
  lines.push("  return 0;", "}");
  return lines.join("\n");
}

/** The same lines, from the table in layout.ts. */
function expected(): string[] {
  const lines: string[] = [];
  for (const [name, layout] of Object.entries(STRUCTS)) {
    if (layout.size >= 0) lines.push(`${name} sizeof ${layout.size}`);
    for (const [field, offset] of Object.entries(layout.fields)) lines.push(`${name} ${field} ${offset}`);
  }
  for (const [name, value] of Object.entries(CONSTANTS)) lines.push(`const ${name} ${value}`);
  return lines;
}

describe("libibverbs layout", () => {
  test.skipIf(Boolean(missing))("every offset, size and constant the bindings use matches the installed headers", () => {
    const dir = mkdtempSync(join(tmpdir(), "verbs-layout-"));
    try {
      writeFileSync(join(dir, "layout.c"), program());
      const compile = spawnSync("gcc", ["-Wall", "-Werror", "-o", join(dir, "layout"), join(dir, "layout.c")], { encoding: "utf8" });
      expect(compile.stderr).toBe("");
      expect(compile.status).toBe(0);
      const run = spawnSync(join(dir, "layout"), { encoding: "utf8" });
      expect(run.status).toBe(0);
      const actual = run.stdout.trim().split("\n");
      expect(actual).toEqual(expected());
      expect(actual.length).toBeGreaterThan(80);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the table is internally consistent: fields lie inside their structure", () => {
    for (const [name, layout] of Object.entries(STRUCTS)) {
      for (const [field, offset] of Object.entries(layout.fields)) {
        expect({ name, field, inside: layout.size < 0 || offset < layout.size }).toEqual({ name, field, inside: true });
      }
    }
  });
});
