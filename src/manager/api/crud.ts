/** Query helpers every resource service shares: tenant-scoped pages, owned lookups, tenant choice. */
import { and, count, desc, eq, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { seesTenant, tenantScope, type Actor } from "../auth/actor.ts";
import type { Database } from "../db/database.ts";
import { NotFound, PermissionDenied } from "../errors.ts";
import type { Page } from "./schemas.ts";

/** A table with an integer id and a tenant. */
export type OwnedTable = PgTable & { id: PgColumn; tenant_id: PgColumn };

/** Page and size. */
export interface PageRequest {
  page: number;
  per_page: number;
}

/** A page of rows matching `where`, newest id first when `newestFirst`. */
export async function pageOf<T>(
  db: Database,
  table: PgTable & { id: PgColumn },
  where: SQL | undefined,
  request: PageRequest,
  options: { newestFirst?: boolean; orderBy?: PgColumn } = {},
): Promise<Page<T>> {
  const order = options.orderBy ?? table.id;
  const [items, totals] = await Promise.all([
    db
      .select()
      .from(table as PgTable)
      .where(where)
      .orderBy(options.newestFirst ? desc(order) : order)
      .limit(request.per_page)
      .offset((request.page - 1) * request.per_page),
    db.select({ n: count() }).from(table as PgTable).where(where),
  ]);
  return { items: items as T[], total: totals[0]?.n ?? 0 };
}

/** `and()` of the actor's tenant scope and other conditions. */
export function scoped(actor: Actor, table: OwnedTable, ...conditions: (SQL | undefined)[]): SQL | undefined {
  return and(tenantScope(actor, table.tenant_id), ...conditions);
}

/** A row by id the actor may see, else NotFound (rows of other tenants look absent). */
export async function getOwned<T>(db: Database, table: OwnedTable, actor: Actor, id: number, label: string): Promise<T> {
  const [row] = await db
    .select()
    .from(table as PgTable)
    .where(scoped(actor, table, eq(table.id, id)));
  if (!row) throw new NotFound(`${label} "${id}" not found`);
  return row as T;
}

/** The tenant a new row goes to: the one asked for (if visible) or the actor's first. */
export function pickTenant(actor: Actor, requested: number | undefined): number {
  if (requested !== undefined) {
    if (!seesTenant(actor, requested)) throw new NotFound(`Tenant "${requested}" not found`);
    return requested;
  }
  const first = actor.tenantIds[0];
  if (first !== undefined) return first;
  if (actor.root) return 1;
  throw new PermissionDenied("Not a member of any tenant");
}

/** Values minus undefined keys, for partial updates. */
export function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
