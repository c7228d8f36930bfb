/** Sessions (jose JWTs backed by a revocable session row) and the actors behind JWTs and tokens. */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import type { ManagerConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import { personalAccessToken, rolePermission, session, setting, user, userRole, userTenant } from "../db/schema.ts";
import { TtlCache } from "../cache.ts";
import { PermissionDenied, Unauthenticated } from "../errors.ts";
import type { Actor } from "./actor.ts";
import { hashToken } from "./token.ts";

/** JWT issuer claim. */
export const JWT_ISSUER = "libellula-manager";
/** Name of the generated key's setting row. */
const JWT_KEY_SETTING = "jwt_key";

/** A session token as Dragonfly returns it. */
export interface SessionToken {
  token: string;
  /** RFC 3339 expiry. */
  expire: string;
}

/** Dependencies of the auth service. */
export interface AuthOptions {
  db: Database;
  config: ManagerConfig;
}

/** The auth service. */
export type Auth = ReturnType<typeof createAuth>;

/** Creates the auth service. */
export function createAuth({ db, config }: AuthOptions) {
  const actors = new TtlCache<Actor>(config.cache.ttlMs);
  /** Tokens already verified, so each request does not redo HMAC; entries never outlive the token. */
  const verified = new TtlCache<{ userId: number; sid: string; exp: number }>(config.cache.ttlMs);
  let keyPromise: Promise<CryptoKey> | undefined;

  /** The HS256 key: from config, or generated once per database and shared by every instance. */
  function signingKey(): Promise<CryptoKey> {
    keyPromise ??= (async () => {
      let secret = config.auth.jwt.key;
      if (!secret) {
        const bytes = crypto.getRandomValues(new Uint8Array(32));
        const fresh = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
        await db.insert(setting).values({ name: JWT_KEY_SETTING, value: fresh }).onConflictDoNothing();
        const [row] = await db.select().from(setting).where(eq(setting.name, JWT_KEY_SETTING));
        secret = row!.value;
      }
      const raw = new TextEncoder().encode(secret);
      return await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    })();
    keyPromise.catch(() => (keyPromise = undefined));
    return keyPromise;
  }

  async function sign(userId: number, sid: string): Promise<SessionToken> {
    const expiresAt = Math.floor(Date.now() / 1000) + config.auth.jwt.ttlSeconds;
    const token = await new SignJWT({ id: userId, sid })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(JWT_ISSUER)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(await signingKey());
    return { token, expire: new Date(expiresAt * 1000).toISOString() };
  }

  /** Roles, permissions and tenants of a user. */
  async function loadUser(userId: number) {
    const [row] = await db.select({ id: user.id, name: user.name, state: user.state }).from(user).where(eq(user.id, userId));
    if (!row || row.state !== "enable") return undefined;
    const [roles, tenants] = await Promise.all([
      db.select({ role: userRole.role }).from(userRole).where(eq(userRole.user_id, userId)),
      db.select({ id: userTenant.tenant_id }).from(userTenant).where(eq(userTenant.user_id, userId)).orderBy(userTenant.tenant_id),
    ]);
    const roleNames = roles.map((r) => r.role);
    const permissions =
      roleNames.length === 0
        ? []
        : await db.select().from(rolePermission).where(inArray(rolePermission.role, roleNames));
    return {
      name: row.name,
      roles: roleNames,
      root: roleNames.includes("root"),
      tenantIds: tenants.map((t) => t.id),
      permissions: new Set(permissions.map((p) => `${p.object}:${p.action}`)),
    };
  }

  /** Verifies a session token; fresh tokens are remembered for the cache TTL (never past their expiry). */
  async function verifyCached(token: string): Promise<{ userId: number; sid: string }> {
    const hit = await verified.get(token, async () => {
      const { userId, sid, exp } = await verifyFull(token, 0);
      return { userId, sid, exp };
    });
    if (hit.exp * 1000 <= Date.now()) {
      verified.delete(token);
      throw new Unauthenticated("Token has expired");
    }
    return hit;
  }

  async function verify(token: string, toleranceSeconds = 0): Promise<{ userId: number; sid: string }> {
    return await verifyFull(token, toleranceSeconds);
  }

  async function verifyFull(token: string, toleranceSeconds: number): Promise<{ userId: number; sid: string; exp: number }> {
    try {
      const { payload } = await jwtVerify(token, await signingKey(), {
        issuer: JWT_ISSUER,
        algorithms: ["HS256"],
        clockTolerance: toleranceSeconds,
      });
      const userId = payload.id;
      const sid = payload.sid;
      if (typeof userId !== "number" || typeof sid !== "string" || typeof payload.exp !== "number") throw new Unauthenticated("Invalid token");
      return { userId, sid, exp: payload.exp };
    } catch (error) {
      if (error instanceof Unauthenticated) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new Unauthenticated("Token has expired");
      throw new Unauthenticated("Invalid token");
    }
  }

  return {
    /** Starts a session for a user and returns its first token. */
    async startSession(userId: number): Promise<SessionToken> {
      const sid = crypto.randomUUID();
      const refreshUntil = new Date(Date.now() + config.auth.jwt.maxRefreshSeconds * 1000);
      await db.insert(session).values({ id: sid, user_id: userId, refresh_until: refreshUntil });
      return await sign(userId, sid);
    },

    /** A new token for a live session; expired tokens are accepted until the session's refresh deadline. */
    async refresh(token: string): Promise<SessionToken> {
      const { userId, sid } = await verify(token, config.auth.jwt.maxRefreshSeconds);
      const [row] = await db
        .select()
        .from(session)
        .where(and(eq(session.id, sid), isNull(session.revoked_at), sql`${session.refresh_until} > now()`));
      if (!row) throw new Unauthenticated("Session has ended");
      return await sign(userId, sid);
    },

    /** Revokes the session behind a token (every instance sees it within the cache TTL). */
    async revoke(token: string): Promise<void> {
      const { sid } = await verify(token, config.auth.jwt.maxRefreshSeconds);
      await db.update(session).set({ revoked_at: new Date() }).where(eq(session.id, sid));
      actors.delete(`jwt:${sid}`);
    },

    /** Revokes every session of a user (password change, disable). */
    async revokeUser(userId: number): Promise<void> {
      await db.update(session).set({ revoked_at: new Date() }).where(and(eq(session.user_id, userId), isNull(session.revoked_at)));
      actors.clear();
    },

    /** The actor behind a session JWT. */
    async actorFromJwt(token: string): Promise<Actor> {
      const { userId, sid } = await verifyCached(token);
      return await actors.get(`jwt:${sid}`, async () => {
        const [row] = await db
          .select({ id: session.id })
          .from(session)
          .where(and(eq(session.id, sid), eq(session.user_id, userId), isNull(session.revoked_at)));
        if (!row) throw new Unauthenticated("Session has ended");
        const loaded = await loadUser(userId);
        if (!loaded) throw new Unauthenticated("User is disabled or gone");
        return { kind: "user", userId, ...loaded };
      });
    },

    /** The actor behind a personal access token: its tenant only, bounded by its owner's permissions. */
    async actorFromToken(token: string): Promise<Actor> {
      const hash = await hashToken(token);
      return await actors.get(`pat:${hash}`, async () => {
        const [row] = await db.select().from(personalAccessToken).where(eq(personalAccessToken.token_hash, hash));
        if (!row) throw new Unauthenticated("Invalid token");
        if (row.state !== "active") throw new PermissionDenied("Token is inactive");
        if (row.expired_at.getTime() <= Date.now()) throw new PermissionDenied("Token has expired");
        const owner = await loadUser(row.user_id);
        if (!owner) throw new Unauthenticated("Token owner is disabled or gone");
        if (!owner.root && !owner.tenantIds.includes(row.tenant_id)) throw new PermissionDenied("Token owner left the tenant");
        db.update(personalAccessToken)
          .set({ last_used_at: new Date() })
          .where(eq(personalAccessToken.id, row.id))
          .catch(() => {});
        return {
          kind: "token",
          userId: row.user_id,
          name: row.name,
          root: false,
          roles: owner.roles,
          tenantIds: [row.tenant_id],
          permissions: owner.root ? ROOT_PERMISSIONS : owner.permissions,
          tokenId: row.id,
          scopes: row.scopes,
        };
      });
    },

    /** Drops cached actors (after role, tenant or token changes). */
    invalidate(): void {
      actors.clear();
      verified.clear();
    },
  };
}

/** Every permission, for tokens owned by root (which still act within their one tenant). */
const ROOT_PERMISSIONS: ReadonlySet<string> = new Set(
  ["personal-access-tokens", "clusters", "scheduler-clusters", "schedulers", "seed-peer-clusters", "seed-peers", "peers", "jobs", "applications", "configs", "permissions", "scheduler-features"].map((g) => `${g}:*`),
);
