/** Users: sign-up (the first becomes root), sign-in with a shared rate limit, profile and roles. */
import { and, eq, sql, type SQL } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import { can, type Actor } from "../../auth/actor.ts";
import { decoyHash, hashPassword, verifyPassword } from "../../auth/password.ts";
import type { Auth, SessionToken } from "../../auth/service.ts";
import { user, userRole, userTenant } from "../../db/schema.ts";
import { guard, NotFound, PermissionDenied, RateLimited, Unauthenticated } from "../../errors.ts";
import { hit, peek } from "../../ratelimit.ts";
import { defined, pageOf, type PageRequest } from "../crud.ts";
import type { ServiceDeps } from "../deps.ts";
import type { Page } from "../schemas.ts";
import type { ResetPassword, Signup, UpdateUser } from "./types.ts";

/** A user as the API shows it. */
export type PublicUser = Omit<typeof user.$inferSelect, "encrypted_password">;

/** Key of the advisory lock taken while deciding whether a sign-up is the first. */
const FIRST_USER_LOCK = 0x4c69627573657273n;
/** The tenant new accounts join. */
const DEFAULT_TENANT_ID = 1;

function publicUser(row: typeof user.$inferSelect): PublicUser {
  const { encrypted_password: _secret, ...rest } = row;
  return rest;
}

/** Creates the user service. */
export function createUserService({ db, config }: ServiceDeps, auth: Auth) {
  const iterations = config.auth.pbkdf2Iterations;
  let decoy: Promise<string> | undefined;

  /** Inserts a user and its first role; the first account on an empty database becomes root. */
  async function insertUser(input: z.output<typeof Signup>, forceRoot: boolean): Promise<PublicUser> {
    const encrypted = await hashPassword(input.password, iterations);
    return await guard("User", () =>
      db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${FIRST_USER_LOCK.toString()}::bigint)`);
        const [existing] = await tx.select({ id: user.id }).from(user).limit(1);
        const first = existing === undefined;
        if (!first && !config.auth.openSignup && !forceRoot) throw new PermissionDenied("Sign-up is closed");
        const [row] = await tx
          .insert(user)
          .values({
            name: input.name,
            email: input.email,
            encrypted_password: encrypted,
            phone: input.phone ?? "",
            avatar: input.avatar ?? "",
            location: input.location ?? "",
            bio: input.bio ?? "",
          })
          .returning();
        await tx.insert(userRole).values({ user_id: row!.id, role: first || forceRoot ? "root" : "guest" });
        await tx.insert(userTenant).values({ user_id: row!.id, tenant_id: DEFAULT_TENANT_ID });
        return publicUser(row!);
      }),
    );
  }

  function requireSelfOr(actor: Actor, id: number, action: "read" | "*"): void {
    if (actor.userId === id || can(actor, "users", action)) return;
    throw new PermissionDenied(`Permission denied: "${action}" on "users"`);
  }

  async function limited(key: string): Promise<void> {
    if ((await peek(db, key, config.auth.signinWindowSeconds)) >= config.auth.signinAttempts) {
      throw new RateLimited("Too many attempts; try again later");
    }
  }

  const service = {
    async signup(input: z.output<typeof Signup>): Promise<PublicUser> {
      return await insertUser(input, false);
    },

    /** Creates the root account from a configured password when the database has no users. */
    async bootstrapRoot(password: string): Promise<PublicUser | undefined> {
      const [existing] = await db.select({ id: user.id }).from(user).limit(1);
      if (existing) return undefined;
      try {
        return await insertUser({ name: "root", password, email: "root@localhost" }, true);
      } catch {
        return undefined; // another instance won the race
      }
    },

    async signin(name: string, password: string, ip: string): Promise<SessionToken> {
      const key = `signin:${ip}:${name}`;
      await limited(key);
      const [row] = await db.select().from(user).where(eq(user.name, name));
      const ok = row ? await verifyPassword(password, row.encrypted_password) : await verifyPassword(password, await (decoy ??= decoyHash(iterations)));
      if (!row || !ok || row.state !== "enable") {
        await hit(db, key, config.auth.signinWindowSeconds);
        throw new Unauthenticated("Incorrect name or password");
      }
      return await auth.startSession(row.id);
    },

    async resetPassword(id: number, input: z.output<typeof ResetPassword>, ip: string): Promise<void> {
      const key = `reset:${ip}:${id}`;
      await limited(key);
      const [row] = await db.select().from(user).where(eq(user.id, id));
      if (!row || !(await verifyPassword(input.old_password, row.encrypted_password))) {
        await hit(db, key, config.auth.signinWindowSeconds);
        throw new Unauthenticated("Incorrect password");
      }
      const encrypted = await hashPassword(input.new_password, iterations);
      await db.update(user).set({ encrypted_password: encrypted, updated_at: new Date() }).where(eq(user.id, id));
      await auth.revokeUser(id);
    },

    async list(actor: Actor, query: PageRequest & { name?: string; email?: string; state?: string }): Promise<Page<PublicUser>> {
      if (!can(actor, "users", "read")) throw new PermissionDenied('Permission denied: "read" on "users"');
      const conditions: SQL[] = [];
      if (query.name) conditions.push(eq(user.name, query.name));
      if (query.email) conditions.push(eq(user.email, query.email));
      if (query.state) conditions.push(eq(user.state, query.state));
      const page = await pageOf<typeof user.$inferSelect>(db, user, and(...conditions), query);
      return { items: page.items.map(publicUser), total: page.total };
    },

    async get(actor: Actor, id: number): Promise<PublicUser> {
      if (actor.userId !== id && !can(actor, "users", "read")) throw new NotFound(`User "${id}" not found`);
      const [row] = await db.select().from(user).where(eq(user.id, id));
      if (!row) throw new NotFound(`User "${id}" not found`);
      return publicUser(row);
    },

    async update(actor: Actor, id: number, input: z.output<typeof UpdateUser>): Promise<PublicUser> {
      requireSelfOr(actor, id, "*");
      if (input.state !== undefined && !actor.root) throw new PermissionDenied("Only root may enable or disable users");
      await service.get(actor, id);
      const [row] = await guard("User", () => db.update(user).set({ ...defined(input), updated_at: new Date() }).where(eq(user.id, id)).returning());
      if (input.state === "disable") await auth.revokeUser(id);
      return publicUser(row!);
    },

    async roles(actor: Actor, id: number): Promise<string[]> {
      await service.get(actor, id);
      const rows = await db.select({ role: userRole.role }).from(userRole).where(eq(userRole.user_id, id)).orderBy(userRole.role);
      return rows.map((r) => r.role);
    },

    async addRole(actor: Actor, id: number, role: string): Promise<void> {
      if (!can(actor, "users", "*")) throw new PermissionDenied('Permission denied: "*" on "users"');
      if (role === "root" && !actor.root) throw new PermissionDenied("Only root may grant root");
      await service.get(actor, id);
      await guard("Role", () => db.insert(userRole).values({ user_id: id, role }).onConflictDoNothing());
      auth.invalidate();
    },

    async removeRole(actor: Actor, id: number, role: string): Promise<void> {
      if (!can(actor, "users", "*")) throw new PermissionDenied('Permission denied: "*" on "users"');
      await service.get(actor, id);
      await db.delete(userRole).where(and(eq(userRole.user_id, id), eq(userRole.role, role)));
      auth.invalidate();
    },
  };
  return service;
}
