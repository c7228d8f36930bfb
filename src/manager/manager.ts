/**
 * The runtime-neutral manager: opens the database, applies migrations, creates the root account when a
 * password is configured, builds the app and runs the liveness sweeper. Entry points only add listeners.
 */
import { createLogger, type Logger } from "../common/log.ts";
import { createApp, type ManagerApp } from "./app.ts";
import type { ManagerConfig } from "./config.ts";
import { openDatabase, type DatabaseHandle, type OpenDatabaseOptions } from "./db/database.ts";
import { migrate } from "./db/migrate.ts";
import { purgeExpired, purgeInactive, sweep } from "./liveness.ts";

/** How often inactive instances are purged. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** Options of createManager(). */
export interface ManagerOptions {
  config: ManagerConfig;
  log?: Logger;
  /** Apply migrations at start (default true; edge deployments migrate out of band). */
  migrate?: boolean;
  /** Hand in an open database instead of opening one from the config. */
  database?: DatabaseHandle;
  /** Extra options for openDatabase(). */
  databaseOptions?: OpenDatabaseOptions;
}

/** A running manager. */
export interface Manager extends ManagerApp, AsyncDisposable {
  readonly database: DatabaseHandle;
  stop(): Promise<void>;
}

/** Starts the manager without any listener. */
export async function createManager(options: ManagerOptions): Promise<Manager> {
  const { config } = options;
  const log = options.log ?? createLogger({ component: "manager" });
  const database =
    options.database ??
    (await openDatabase({ url: config.database.url, dataDir: config.database.dataDir, poolSize: config.database.poolSize, ...options.databaseOptions }));
  try {
    if (options.migrate ?? true) {
      const applied = await migrate(database.db);
      if (applied.length > 0) log.info("Applied migrations", { applied });
    }
    const managerApp = createApp({ db: database.db, config, log });
    if (config.auth.initialRootPassword) {
      const root = await managerApp.services.users.bootstrapRoot(config.auth.initialRootPassword);
      if (root) log.info("Created the root account", { name: root.name });
    }
    let sweeping = false;
    let lastPurge = Date.now();
    const timer = setInterval(async () => {
      if (sweeping) return;
      sweeping = true;
      try {
        const changed = await sweep(database.db);
        await managerApp.services.jobs.expire();
        if (changed > 0) managerApp.services.registry.invalidate();
        if (Date.now() - lastPurge >= PURGE_INTERVAL_MS) {
          lastPurge = Date.now();
          const removed = (await purgeInactive(database.db)) + (await purgeExpired(database.db));
          if (removed > 0) log.info("Removed long-inactive instances and expired sessions", { removed });
        }
      } catch (error) {
        log.warn("Liveness sweep failed", { error });
      } finally {
        sweeping = false;
      }
    }, config.keepAlive.intervalMs);
    (timer as { unref?: () => void }).unref?.();
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (!options.database) await database.close();
    };
    return { ...managerApp, database, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
}
