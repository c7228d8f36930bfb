/** A small flag parser: `--name value`, `--name=value` and boolean `--name`, with env fallbacks. */

/** What one flag looks like. */
export interface FlagSpec {
  /** Takes no value. */
  boolean?: boolean;
  /** Environment variable read when the flag is absent. */
  env?: string;
  /** Value when neither flag nor env is given. */
  default?: string;
  /** One line for `--help`. */
  help: string;
}

/** Parsed flags: strings for valued flags, "true"/"false" for booleans. */
export type Flags<K extends string> = Record<K, string> & { help: boolean };

/** Parses `argv` against `spec`; throws with the flag named on anything unknown or missing a value. */
export function parseFlags<K extends string>(argv: string[], spec: Record<K, FlagSpec>): Flags<K> {
  const values = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`Unexpected argument "${arg}"`);
    const name = match[1]!;
    const flag = (spec as Record<string, FlagSpec>)[name];
    if (!flag) throw new Error(`Unknown flag "--${name}": see --help`);
    if (flag.boolean) {
      values.set(name, match[2] ?? "true");
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`Flag "--${name}" needs a value`);
    values.set(name, value);
  }
  const out: Record<string, string> = {};
  for (const [name, flag] of Object.entries<FlagSpec>(spec)) {
    out[name] = values.get(name) ?? (flag.env ? process.env[flag.env] : undefined) ?? flag.default ?? (flag.boolean ? "false" : "");
  }
  return Object.assign(out, { help }) as Flags<K>;
}

/** `--help` text for `spec`. */
export function usage<K extends string>(command: string, summary: string, spec: Record<K, FlagSpec>): string {
  const lines = [`Usage: ${command} [flags]`, "", summary, "", "Flags:"];
  for (const [name, flag] of Object.entries<FlagSpec>(spec)) {
    const left = `  --${name}${flag.boolean ? "" : " VALUE"}`;
    const extras = [flag.default ? `default ${flag.default}` : "", flag.env ? `env ${flag.env}` : ""].filter(Boolean).join(", ");
    lines.push(`${left.padEnd(26)}${flag.help}${extras ? ` (${extras})` : ""}`);
  }
  return lines.join("\n");
}

/** True for "true", "1", "yes". */
export function isTrue(value: string): boolean {
  return ["true", "1", "yes"].includes(value.toLowerCase());
}
