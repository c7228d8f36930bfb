/** YAML config files validated by zod, with every key overridable by a `--dotted.key value` flag. */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { InvalidArgument, errorMessage } from "./errors.ts";

/** Thrown when a config file, flag or value is invalid; the message names the key. */
export class ConfigError extends InvalidArgument {}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep-merges `override` into `base` (arrays and scalars replace). */
export function deepMerge(base: Plain, override: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Sets `a.b.c` in a nested object. */
export function setPath(target: Plain, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!isPlain(node[part])) node[part] = {};
    node = node[part] as Plain;
  }
  node[parts[parts.length - 1]!] = value;
}

/** Turns a flag's text into YAML's idea of a value: numbers, booleans, lists. */
function coerce(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

/** Formats a zod issue path as the config key. */
function keyOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

/** Formats zod issues as one message per key. */
export function formatIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      if (issue.code === "unrecognized_keys") {
        const prefix = keyOf(issue.path);
        return issue.keys.map((k) => `Invalid config ${source}: unknown key "${prefix ? `${prefix}.` : ""}${k}"`).join("\n");
      }
      return `Invalid config ${source}: key "${keyOf(issue.path)}": ${issue.message}`;
    })
    .join("\n");
}

/** Options of loadConfig(). */
export interface LoadConfigOptions {
  /** Path of a YAML file, if any. */
  file?: string;
  /** `dotted.key → text` overrides from flags, applied after the file. */
  overrides?: Record<string, string>;
  /** Already-parsed overrides applied after the file, before flags. */
  defaults?: Plain;
}

/** Reads, merges and validates a config; throws ConfigError naming the key on any problem. */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadConfigOptions = {}): z.output<S> {
  let raw: Plain = options.defaults ?? {};
  const source = options.file ? `"${options.file}"` : "(flags)";
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, "utf8");
    } catch (cause) {
      throw new ConfigError(`Cannot read config "${options.file}": ${errorMessage(cause)}`, { cause });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text) ?? {};
    } catch (cause) {
      throw new ConfigError(`Invalid config ${source}: not YAML: ${errorMessage(cause)}`, { cause });
    }
    if (!isPlain(parsed)) throw new ConfigError(`Invalid config ${source}: the top level must be a mapping`);
    raw = deepMerge(raw, parsed);
  }
  for (const [key, text] of Object.entries(options.overrides ?? {})) setPath(raw, key, coerce(text));
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  return result.data;
}

/** Parsed command line: positionals, `--config`, dotted overrides and other flags. */
export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string[]>;
}

/**
 * Parses `--flag value`, `--flag=value`, `-f value` and bare `--flag` (boolean).
 * `booleans` lists flags that never take a value.
 */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = [], aliases: Record<string, string> = {}): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string[]> = {};
  const add = (name: string, value: string) => (flags[name] ??= []).push(value);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name = arg.replace(/^--?/, "");
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = aliases[name] ?? name;
    if (value === undefined) {
      if (booleans.includes(name)) value = "true";
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith("-") && next.length > 1 && !/^-\d/.test(next))) value = "true";
        else value = argv[++i]!;
      }
    }
    add(name, value);
  }
  return { positionals, flags };
}

/** The last value of a flag. */
export function flag(args: ParsedArgs, name: string): string | undefined {
  const values = args.flags[name];
  return values?.[values.length - 1];
}

/** Dotted config overrides among the flags: every flag whose name contains a dot. */
export function configOverrides(args: ParsedArgs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(args.flags)) if (name.includes(".")) out[name] = values[values.length - 1]!;
  return out;
}
