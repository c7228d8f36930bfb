/** A small Prometheus registry: counters and gauges with labels, rendered in the text format. */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",");
}

/** A metric family of one name. */
export interface Metric {
  readonly name: string;
  render(): string;
}

/** A monotonically increasing value per label set. */
export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `value` (default 1). */
  inc(labels: Labels = {}, value = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + value);
  }
  /** The current value for a label set. */
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ""} ${value}`);
    return lines.join("\n");
  }
}

/** A value that goes up and down, or is computed when scraped. */
export class Gauge implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, private readonly collect?: () => number) {}
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  inc(labels: Labels = {}, value = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + value);
  }
  dec(labels: Labels = {}, value = 1): void {
    this.inc(labels, -value);
  }
  get(labels: Labels = {}): number {
    return this.collect ? this.collect() : (this.values.get(labelKey(labels)) ?? 0);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    if (this.collect) lines.push(`${this.name} ${this.collect()}`);
    else for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ""} ${value}`);
    return lines.join("\n");
  }
}

/** A set of metrics rendered together. */
export class Registry {
  private readonly metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    const metric = new Counter(name, help);
    this.metrics.push(metric);
    return metric;
  }
  gauge(name: string, help: string, collect?: () => number): Gauge {
    const metric = new Gauge(name, help, collect);
    this.metrics.push(metric);
    return metric;
  }
  /** The Prometheus text exposition. */
  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}

/** A fetch handler serving `/healthy` and `/metrics`. */
export function opsHandler(registry: Registry, healthy: () => boolean = () => true): (request: Request) => Response {
  return (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthy") return healthy() ? new Response("OK") : new Response("unhealthy", { status: 503 });
    if (pathname === "/metrics") {
      return new Response(registry.render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
    }
    return Response.json({ message: `Not found: "${pathname}"` }, { status: 404 });
  };
}
