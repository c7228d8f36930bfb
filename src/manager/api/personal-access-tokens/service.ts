/** Personal access tokens: each user manages their own (root sees all); stored hashed, shown once. */
import { and, eq, type SQL } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Actor } from "../../auth/actor.ts";
import { generateToken, hashToken } from "../../auth/token.ts";
import { personalAccessToken } from "../../db/schema.ts";
import { guard, InvalidArgument, NotFound, PermissionDenied } from "../../errors.ts";
import { defined, pageOf, pickTenant, scoped, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import type { CreateToken, UpdateToken } from "./types.ts";

/** A token as the API shows it. */
export type PublicToken = Omit<typeof personalAccessToken.$inferSelect, "token_hash">;

const LABEL = "Personal access token";

function publicToken(row: typeof personalAccessToken.$inferSelect): PublicToken {
  const { token_hash: _hash, ...rest } = row;
  return rest;
}

/** Creates the token service; `invalidate` drops cached token actors after changes. */
export function createTokenService({ db }: ServiceDeps, invalidate: () => void) {
  function visible(actor: Actor, ...conditions: (SQL | undefined)[]): SQL | undefined {
    const own = actor.root ? undefined : eq(personalAccessToken.user_id, actor.userId ?? -1);
    return scoped(actor, personalAccessToken, own, ...conditions);
  }
  const service = {
    async list(actor: Actor, query: PageRequest & { name?: string; state?: string }): Promise<Page<PublicToken>> {
      const page = await pageOf<typeof personalAccessToken.$inferSelect>(
        db,
        personalAccessToken,
        visible(
          actor,
          query.name ? eq(personalAccessToken.name, query.name) : undefined,
          query.state ? eq(personalAccessToken.state, query.state) : undefined,
        ),
        query,
      );
      return { items: page.items.map(publicToken), total: page.total };
    },
    async get(actor: Actor, id: number): Promise<PublicToken> {
      const [row] = await db.select().from(personalAccessToken).where(visible(actor, eq(personalAccessToken.id, id)));
      if (!row) throw new NotFound(`${LABEL} "${id}" not found`);
      return publicToken(row);
    },
    async create(actor: Actor, input: z.output<typeof CreateToken>): Promise<PublicToken & { token: string }> {
      if (actor.kind !== "user" || actor.userId === null) throw new PermissionDenied("Only signed-in users create tokens");
      const owner = input.user_id ?? actor.userId;
      if (owner !== actor.userId && !actor.root) throw new PermissionDenied("Only root may create tokens for others");
      const expiredAt = new Date(input.expired_at);
      if (expiredAt.getTime() <= Date.now()) throw new InvalidArgument('Invalid "expired_at": must be in the future');
      const tenantId = pickTenant(actor, input.tenant_id);
      const token = generateToken();
      const [row] = await guard(LABEL, async () =>
        db
          .insert(personalAccessToken)
          .values({
            tenant_id: tenantId,
            user_id: owner,
            name: input.name,
            bio: input.bio ?? "",
            token_hash: await hashToken(token),
            token_prefix: token.slice(0, 8),
            scopes: input.scopes,
            expired_at: expiredAt,
          })
          .returning(),
      );
      return { ...publicToken(row!), token };
    },
    async update(actor: Actor, id: number, input: z.output<typeof UpdateToken>): Promise<PublicToken> {
      await service.get(actor, id);
      const [row] = await guard(LABEL, () =>
        db
          .update(personalAccessToken)
          .set({
            ...defined({ bio: input.bio, scopes: input.scopes, state: input.state }),
            ...(input.expired_at ? { expired_at: new Date(input.expired_at) } : {}),
            updated_at: new Date(),
          })
          .where(eq(personalAccessToken.id, id))
          .returning(),
      );
      invalidate();
      return publicToken(row!);
    },
    async remove(actor: Actor, id: number): Promise<void> {
      await service.get(actor, id);
      await db.delete(personalAccessToken).where(and(eq(personalAccessToken.id, id)));
      invalidate();
    },
  };
  return service;
}
