import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { configOverrides, loadConfig, parseArgs } from "./config.ts";

const schema = z.strictObject({
  host: z.strictObject({ ip: z.string().default("127.0.0.1"), port: z.number().int().min(1).default(80) }).prefault({}),
});

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "cfg-")), "c.yaml");
  writeFileSync(path, text);
  return path;
}

test("loadConfig() applies defaults, file and flags in that order", () => {
  expect(loadConfig(schema).host.port).toBe(80);
  const path = file("host:\n  port: 81\n");
  expect(loadConfig(schema, { file: path }).host.port).toBe(81);
  expect(loadConfig(schema, { file: path, overrides: { "host.port": "82" } }).host.port).toBe(82);
});

test("loadConfig() names an unknown key", () => {
  expect(() => loadConfig(schema, { file: file("host:\n  bogus: 1\n") })).toThrow('unknown key "host.bogus"');
});

test("loadConfig() names a key with a bad value", () => {
  expect(() => loadConfig(schema, { overrides: { "host.port": "-3" } })).toThrow('key "host.port"');
});

test("loadConfig() reports a missing file and bad YAML clearly", () => {
  expect(() => loadConfig(schema, { file: "/nonexistent/x.yaml" })).toThrow('Cannot read config "/nonexistent/x.yaml"');
  expect(() => loadConfig(schema, { file: file("host: [\n") })).toThrow("not YAML");
});

test("parseArgs() reads flags, aliases and dotted overrides", () => {
  const args = parseArgs(["u", "-O", "out", "--host.ip=1.2.3.4", "--quiet", "--h", "a: b", "--h", "c: d"], ["quiet"], { O: "output" });
  expect(args.positionals).toEqual(["u"]);
  expect(args.flags.output).toEqual(["out"]);
  expect(args.flags.h).toEqual(["a: b", "c: d"]);
  expect(configOverrides(args)).toEqual({ "host.ip": "1.2.3.4" });
});
