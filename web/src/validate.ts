/** Client-side checks that mirror the manager's validation, so mistakes are named before a request. */

/** Whether text is an IPv4 address. */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Whether text is an IPv6 address (compressed forms and an IPv4 tail allowed). */
export function isIPv6(text: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(text) || !text.includes(":")) return false;
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const all = [...groups(halves[0]!), ...(halves.length === 2 ? groups(halves[1]!) : [])];
  let width = 0;
  for (const [i, g] of all.entries()) {
    if (i === all.length - 1 && g.includes(".")) {
      if (!isIPv4(g)) return false;
      width += 2;
    } else if (/^[0-9a-f]{1,4}$/i.test(g)) width += 1;
    else return false;
  }
  return halves.length === 2 ? width < 8 : width === 8;
}

/** Whether text is an IP address. */
export function isIP(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}

/** Whether text is a CIDR block such as 10.0.0.0/8 or fd00::/8. */
export function isCIDR(text: string): boolean {
  const [address, bits, extra] = text.split("/");
  if (extra !== undefined || !address || !bits || !/^\d{1,3}$/.test(bits)) return false;
  if (isIPv4(address)) return Number(bits) <= 32;
  return isIPv6(address) && Number(bits) <= 128;
}

/** The lines of a textarea, trimmed, without blanks. */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** An integer field: the number, or an error naming the range; empty is undefined. */
export function integerIn(text: string, min: number, max: number): { value?: number; error?: string } {
  if (text.trim() === "") return {};
  const value = Number(text);
  if (!Number.isInteger(value)) return { error: "Must be a whole number" };
  if (value < min || value > max) return { error: `Must be between ${min} and ${max}` };
  return { value };
}

/** A JSON object field: the object, or the parser's complaint; empty is {}. */
export function jsonObject(text: string): { value?: Record<string, unknown>; error?: string } {
  if (text.trim() === "") return { value: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "Must be a JSON object, like {\"key\": \"value\"}" };
    return { value: value as Record<string, unknown> };
  } catch (error) {
    return { error: `Invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Lines that do not compile as regular expressions, with the reason. */
export function badPatterns(patterns: string[]): string | undefined {
  for (const pattern of patterns) {
    try {
      new RegExp(pattern);
    } catch (error) {
      return `"${pattern}" is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return undefined;
}
