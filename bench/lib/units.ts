/** Sizes, rates and durations as the bench flags write them, and how the reports print them. */

const SIZE_UNITS: Record<string, number> = {
  "": 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3,
};

const RATE_UNITS: Record<string, number> = {
  bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9,
  bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9,
};

/** Parses `128MiB`, `1GiB`, `4096` into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (!match || unit === undefined) throw new Error(`Invalid size "${text}": expected e.g. "128MiB" or "1GiB"`);
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes <= 0) throw new Error(`Invalid size "${text}": must be positive`);
  return bytes;
}

/** Parses a `tc` rate (`200mbit`, `1gbit`, `25mbps` = 25 MB/s) into bits per second. */
export function parseRate(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  const unit = RATE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (!match || unit === undefined) throw new Error(`Invalid rate "${text}": expected e.g. "200mbit" or "1gbit"`);
  const bits = Math.round(Number(match[1]) * unit);
  if (bits <= 0) throw new Error(`Invalid rate "${text}": must be positive`);
  return bits;
}

/** `134217728` → `128 MiB`. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[i]}`;
}

/** `200000000` → `200 Mbit/s`. */
export function formatRate(bitsPerSecond: number): string {
  if (bitsPerSecond >= 1e9) return `${+(bitsPerSecond / 1e9).toFixed(2)} Gbit/s`;
  if (bitsPerSecond >= 1e6) return `${+(bitsPerSecond / 1e6).toFixed(2)} Mbit/s`;
  return `${+(bitsPerSecond / 1e3).toFixed(2)} kbit/s`;
}

/** Seconds with two decimals: `5.37 s`. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Decimal megabytes per second: `812.4 MB/s`. */
export function formatThroughput(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`;
}

/** A ratio with two decimals: `1.07×`. */
export function formatRatio(value: number): string {
  return `${value.toFixed(2)}×`;
}
