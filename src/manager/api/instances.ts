/**
 * Shared service of cluster members (schedulers, seed peers, peers): each row belongs to a cluster and
 * inherits that cluster's tenant, so tenant checks go through the cluster.
 */
import { eq, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Actor } from "../auth/actor.ts";
import type { Database } from "../db/database.ts";
import { guard } from "../errors.ts";
import { defined, getOwned, pageOf, scoped, type OwnedTable, type PageRequest } from "./crud.ts";
import type { Page } from "./schemas.ts";

/** How one member kind is stored. */
export interface InstanceKind {
  table: OwnedTable;
  /** The column naming the cluster. */
  clusterColumn: string;
  clusterTable: OwnedTable;
  label: string;
  clusterLabel: string;
}

/** Creates CRUD for one member kind. */
export function createInstanceService<Row>(db: Database, kind: InstanceKind, changed: () => void) {
  const table = kind.table as OwnedTable & Record<string, PgColumn>;
  const service = {
    async list(actor: Actor, query: PageRequest, filters: Record<string, string | number | undefined>): Promise<Page<Row>> {
      const conditions: SQL[] = [];
      for (const [key, value] of Object.entries(filters)) {
        const column = table[key];
        if (value !== undefined && column) conditions.push(eq(column, value));
      }
      return await pageOf<Row>(db, table, scoped(actor, table, ...conditions), query);
    },
    async get(actor: Actor, id: number): Promise<Row> {
      return await getOwned<Row>(db, table, actor, id, kind.label);
    },
    async create(actor: Actor, input: Record<string, unknown>): Promise<Row> {
      const clusterId = input[kind.clusterColumn] as number;
      const cluster = await getOwned<{ tenant_id: number }>(db, kind.clusterTable, actor, clusterId, kind.clusterLabel);
      const [row] = await guard(kind.label, () =>
        db.insert(table as PgTable).values({ ...defined(input), tenant_id: cluster.tenant_id } as never).returning(),
      );
      changed();
      return row as Row;
    },
    async update(actor: Actor, id: number, input: Record<string, unknown>): Promise<Row> {
      await service.get(actor, id);
      const [row] = await guard(kind.label, () =>
        db
          .update(table as PgTable)
          .set({ ...defined(input), updated_at: new Date() } as never)
          .where(eq(table.id, id))
          .returning(),
      );
      changed();
      return row as Row;
    },
    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      await guard(kind.label, () => db.delete(table as PgTable).where(eq(table.id, id)));
      changed();
    },
  };
  return service;
}

/** The service type for a row type. */
export type InstanceService<Row> = ReturnType<typeof createInstanceService<Row>>;
