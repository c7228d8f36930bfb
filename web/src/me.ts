/** The signed-in user, their roles and what they may do, loaded once per session. */
import { ApiError, get } from "./api.ts";
import { session, type Session } from "./session.ts";
import { signal } from "./signal.ts";
import type { Permission, Role, Tenant, User } from "./types.ts";

/** Who is signed in. */
export interface Me {
  user: User;
  roles: string[];
  root: boolean;
  /** `object:action` pairs from the roles the user may read; empty when unknown. */
  permissions: Set<string>;
  tenants: Tenant[];
}

/** The signed-in user, or null while loading or signed out. */
export const me = signal<Me | null>(null);

/** Whether the user may do `action` on an API group; unknown permissions allow, and the API decides. */
export function can(who: Me | null, object: string, action: "read" | "*" = "read"): boolean {
  if (!who) return false;
  if (who.root) return true;
  if (who.permissions.size === 0) return true;
  return who.permissions.has(`${object}:*`) || (action === "read" && who.permissions.has(`${object}:read`));
}

/** Loads the user behind a session. */
export async function loadMe(current: Session): Promise<Me> {
  const [user, roles] = await Promise.all([get<User>(`/api/v1/users/${current.userId}`), get<string[]>(`/api/v1/users/${current.userId}/roles`)]);
  const permissions = new Set<string>();
  const root = roles.includes("root");
  if (!root) {
    const details = await Promise.all(
      roles.map((role) =>
        get<Role>(`/api/v1/roles/${encodeURIComponent(role)}`).catch((error: unknown) => {
          if (error instanceof ApiError && (error.status === 403 || error.status === 404 || error.status === 401)) return null;
          throw error;
        }),
      ),
    );
    for (const role of details) for (const p of (role?.permissions ?? []) as Permission[]) permissions.add(`${p.object}:${p.action}`);
  }
  const tenants = await get<Tenant[]>("/api/v1/tenants", { per_page: 1000 }).catch(() => [] as Tenant[]);
  const loaded = { user, roles, root, permissions, tenants };
  if (session.value === current) me.value = loaded;
  return loaded;
}

// A session that ends takes the loaded user with it.
session.subscribe((value) => {
  if (!value) me.value = null;
});
