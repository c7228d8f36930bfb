/** Cleanup on every way out: normal end, error, Ctrl-C and SIGTERM. */

type Step = { name: string; fn: () => Promise<void> | void };

/** Runs registered steps in reverse order, once, whichever way the bench ends. */
export class Cleanup {
  readonly #steps: Step[] = [];
  #done: Promise<void> | null = null;
  /** Set once a signal arrived; errors after that are the stop, not the bench's failure. */
  interrupted = false;

  /** Registers a step; steps run last-registered first. */
  add(name: string, fn: () => Promise<void> | void): void {
    this.#steps.push({ name, fn });
  }

  /** Runs every step once; a failing step is reported and the rest still run. */
  run(): Promise<void> {
    this.#done ??= (async () => {
      while (this.#steps.length > 0) {
        const step = this.#steps.pop()!;
        try {
          await step.fn();
        } catch (error) {
          console.error(`cleanup: ${step.name}: ${(error as Error).message}`);
        }
      }
    })();
    return this.#done;
  }

  /** Throws once a signal arrived, so the bench stops at the next step instead of carrying on. */
  check(): void {
    if (this.interrupted) throw new Error("Interrupted");
  }

  /** On SIGINT/SIGTERM: clean up, then exit 130/143. */
  handleSignals(): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      process.on(signal, () => {
        if (this.interrupted) return;
        this.interrupted = true;
        console.error(`\n${signal}: stopping and cleaning up…`);
        void this.run().finally(() => process.exit(code));
      });
    };
    onSignal("SIGINT", 130);
    onSignal("SIGTERM", 143);
  }
}
