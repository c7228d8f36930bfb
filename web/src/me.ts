/** The signed-in user, their roles and what they may do, loaded once per session. */
import { get } from "./api.ts";
import { session, type Session } from "./session.ts";
import { signal } from "./signal.ts";
import type { Tenant, User } from "./types.ts";

/** Who is signed in. */
export interface Me {
  user: User;
  roles: string[];
  root: boolean;
  /** `object:action` pairs of the user's built-in roles. */
  permissions: Set<string>;
  tenants: Tenant[];
}

/** The signed-in user, or null while loading or signed out. */
export const me = signal<Me | null>(null);

/** Groups every user may read: their own tenants and profile. */
const ALWAYS: readonly string[] = ["tenants"];

/**
 * The manager's built-in roles, which it refuses to change. Their grants are known here because the API has no
 * "my permissions" call, and a guest may not read roles; custom roles are unknown and the API decides.
 */
const BUILTIN: Record<string, readonly string[]> = {
  guest: [
    ...["permissions", "clusters", "scheduler-clusters", "schedulers", "scheduler-features", "seed-peer-clusters", "seed-peers", "peers", "configs", "jobs", "applications"].map((g) => `${g}:read`),
    "personal-access-tokens:*",
  ],
  admin: [
    ...["personal-access-tokens", "clusters", "scheduler-clusters", "schedulers", "seed-peer-clusters", "seed-peers", "peers", "jobs", "applications"].map((g) => `${g}:*`),
    ...["permissions", "scheduler-features", "configs"].map((g) => `${g}:read`),
  ],
};

/** Whether the user may do `action` on an API group; with a custom role the console allows and the API decides. */
export function can(who: Me | null, object: string, action: "read" | "*" = "read"): boolean {
  if (!who) return false;
  if (who.root) return true;
  if (ALWAYS.includes(object) && action === "read") return true;
  if (who.roles.some((r) => !(r in BUILTIN))) return true;
  return who.permissions.has(`${object}:*`) || (action === "read" && who.permissions.has(`${object}:read`));
}

/** Loads the user behind a session. */
export async function loadMe(current: Session): Promise<Me> {
  const [user, roles, tenants] = await Promise.all([
    get<User>(`/api/v1/users/${current.userId}`),
    get<string[]>(`/api/v1/users/${current.userId}/roles`),
    get<Tenant[]>("/api/v1/tenants", { per_page: 1000 }),
  ]);
  const permissions = new Set(roles.flatMap((role) => BUILTIN[role] ?? []));
  const loaded = { user, roles, root: roles.includes("root"), permissions, tenants };
  if (session.value === current) me.value = loaded;
  return loaded;
}

// A session that ends takes the loaded user with it.
session.subscribe((value) => {
  if (!value) me.value = null;
});
