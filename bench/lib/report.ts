/** Printing results: sections, tables and the summary block meant for the README. */
import { cpus, release, totalmem } from "node:os";

/** A Markdown table with right-aligned figures after the first column. */
export function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

/** One line about the machine, for the summary. */
export function machine(): string {
  const list = cpus();
  const model = (list[0]?.model ?? "unknown CPU").replace(/\s+/g, " ").trim();
  return `${list.length} × ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Bun ${Bun.version}`;
}

/** Prints a heading for a stage of the bench. */
export function section(title: string): void {
  console.log(`\n== ${title}`);
}

/** Wraps the summary block between markers so it is easy to find and paste. */
export function summaryBlock(lines: string[]): string {
  return ["", "----- summary (paste into README) -----", ...lines, "----- end of summary -----"].join("\n");
}
