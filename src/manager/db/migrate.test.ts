import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { sql } from "drizzle-orm";
import { freshPostgres } from "../test-support.ts";
import { openDatabase } from "./database.ts";
import { MIGRATIONS_DIR, readMigrations, renderEmbedded } from "./embed-migrations.ts";
import { migrate, rowsOf } from "./migrate.ts";

setDefaultTimeout(60_000);
const root = join(import.meta.dir, "..", "..", "..");

describe("migrations", () => {
  test("the committed migrations match the drizzle schema", () => {
    const dir = mkdtempSync(join(tmpdir(), "libellula-migrations-"));
    try {
      cpSync(MIGRATIONS_DIR, join(dir, "migrations"), { recursive: true });
      const config = join(dir, "drizzle.config.ts");
      writeFileSync(
        config,
        `export default { dialect: "postgresql", schema: "./src/manager/db/schema.ts", out: ${JSON.stringify(`./${relative(root, join(dir, "migrations"))}`)} };\n`,
      );
      const before = readdirSync(join(dir, "migrations")).sort();
      const result = spawnSync(join(root, "node_modules/.bin/drizzle-kit"), ["generate", "--config", config], { cwd: root, encoding: "utf8" });
      expect(result.status).toBe(0);
      expect(`${result.stdout}${result.stderr}`).toContain("No schema changes");
      expect(readdirSync(join(dir, "migrations")).sort()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the embedded migrations match the migration folder", () => {
    expect(readFileSync(join(import.meta.dir, "migrations.gen.ts"), "utf8")).toBe(renderEmbedded());
  });

  test("two instances migrating one PostgreSQL at once apply each migration exactly once", async () => {
    const pg = await freshPostgres();
    try {
      const a = await openDatabase({ url: pg.url, poolSize: 2 });
      const b = await openDatabase({ url: pg.url, poolSize: 2 });
      const [appliedA, appliedB] = await Promise.all([migrate(a.db), migrate(b.db)]);
      expect([...appliedA, ...appliedB].sort()).toEqual(readMigrations().map((m) => m.tag).sort());
      expect(await migrate(a.db)).toEqual([]);
      const rows = rowsOf<{ n: number }>(await a.db.execute(sql`select count(*)::int as n from "__libellula_migrations"`));
      expect(rows[0]!.n).toBe(readMigrations().length);
      const clusters = rowsOf<{ n: number }>(await b.db.execute(sql`select count(*)::int as n from "scheduler_cluster"`));
      expect(clusters[0]!.n).toBe(1);
      await a.close();
      await b.close();
    } finally {
      await pg.drop();
    }
  });
});
