/** Byte sizes and durations as Dragonfly's configs and flags write them. */
import { InvalidArgument } from "./errors.ts";

/** 1 KiB. */
export const KIB = 1024;
/** 1 MiB. */
export const MIB = 1024 * 1024;
/** 1 GiB. */
export const GIB = 1024 * 1024 * 1024;

const SIZE_UNITS: Record<string, number> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: KIB, kib: KIB, mi: MIB, mib: MIB, gi: GIB, gib: GIB, ti: 1024 * GIB, tib: 1024 * GIB,
};

/** Parses `4mib`, `50GB`, `1024` into bytes. */
export function parseByteSize(text: string | number): number {
  if (typeof text === "number") return text;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (!match || unit === undefined) throw new InvalidArgument(`Invalid size "${text}": expected e.g. "4MiB" or "50GB"`);
  return Math.round(Number(match[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `2h`, `1h30m`, `90` (seconds) into milliseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === "number") return text * 1000;
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  let total = 0;
  let rest = trimmed;
  const part = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;
  if (rest === "") throw new InvalidArgument(`Invalid duration "${text}": expected e.g. "30s" or "2h"`);
  while (rest !== "") {
    const match = part.exec(rest);
    if (!match) throw new InvalidArgument(`Invalid duration "${text}": expected e.g. "30s" or "2h"`);
    total += Number(match[1]) * (DURATION_UNITS[match[2]!] ?? 0);
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** Formats bytes for people: `12.3 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? value : value.toFixed(1)} ${units[i]}`;
}
