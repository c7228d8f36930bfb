/** HTTP Range header parsing for the bench origin (one range; others are ignored as RFC 9110 allows). */

/**
 * `[start, end)` for a single `bytes=` range of a `size`-byte file, `null` to serve the whole file
 * (no usable range, or several ranges), or `"unsatisfiable"` for a 416.
 */
export function parseRange(header: string, size: number): [number, number] | null | "unsatisfiable" {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size];
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size : Math.min(Number(last) + 1, size);
  if (end <= start) return null;
  return [start, end];
}
