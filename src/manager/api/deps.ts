/** What every resource service is built from. */
import type { ManagerConfig } from "../config.ts";
import type { Database } from "../db/database.ts";

/** Dependencies of a service. */
export interface ServiceDeps {
  db: Database;
  config: ManagerConfig;
  /** Called after every write that can change what RPC callers or cached lists see. */
  changed: () => void;
}
