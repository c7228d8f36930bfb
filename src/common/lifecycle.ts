/** Lifecycles of long-lived parts and the main-loop that starts and stops them. */
import type { Logger } from "./log.ts";

/** A long-lived part of a process. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts services in order, stops them in reverse on SIGINT/SIGTERM or when `done` settles,
 * and resolves with the process exit code.
 */
export async function runServices(services: Service[], log: Logger, done?: Promise<unknown>): Promise<number> {
  const started: Service[] = [];
  let code = 0;
  try {
    for (const service of services) {
      await service.start();
      started.push(service);
    }
  } catch (error) {
    log.error("Cannot start", { error });
    code = 1;
  }
  if (code === 0) {
    await new Promise<void>((resolve) => {
      const onSignal = (signal: string) => {
        log.info("Stopping", { signal });
        resolve();
      };
      process.once("SIGINT", () => onSignal("SIGINT"));
      process.once("SIGTERM", () => onSignal("SIGTERM"));
      done?.then(() => resolve(), (error) => {
        log.error("Stopped on error", { error });
        code = 1;
        resolve();
      });
    });
  }
  for (const service of started.reverse()) {
    try {
      await service.stop();
    } catch (error) {
      log.warn(`Cannot stop ${service.name} cleanly`, { error });
    }
  }
  return code;
}
