/** A one-line progress bar for terminals: bytes, percent, rate and ETA, redrawn at most 10 times a second. */
import { formatBytes } from "../common/units.ts";

/** A progress bar bound to a writable terminal stream. */
export class ProgressBar {
  private total = 0;
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly out: { write(text: string): unknown; columns?: number },
    private readonly label: string,
  ) {}

  /** Sets the total size in bytes. */
  start(total: number): void {
    this.total = total;
    this.draw(true);
  }

  /** Adds finished bytes. */
  advance(bytes: number): void {
    this.done += bytes;
    this.draw(false);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    this.draw(true);
    this.out.write("\n");
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const elapsed = Math.max((now - this.started) / 1000, 0.001);
    const rate = this.done / elapsed;
    const fraction = this.total > 0 ? Math.min(this.done / this.total, 1) : 1;
    const eta = rate > 0 && this.total > this.done ? Math.ceil((this.total - this.done) / rate) : 0;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 60));
    const filled = Math.round(fraction * width);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const text = `${this.label} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(this.done)}/${formatBytes(this.total)} ${formatBytes(rate)}/s ETA ${eta}s`;
    this.out.write(`\r${text}\x1b[K`);
  }
}
