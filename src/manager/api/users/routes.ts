/** REST routes of /api/v1/users: sign-up, sign-in, sessions, profile and roles. */
import { z } from "@hono/zod-openapi";
import type { Auth } from "../../auth/service.ts";
import { Unauthenticated } from "../../errors.ts";
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { IdParams, PageQuery } from "../schemas.ts";
import type { createUserService } from "./service.ts";
import { ResetPassword, SessionToken, Signin, Signup, UpdateUser, User, UserFilter, UserRoleParams } from "./types.ts";

const BASE = "/api/v1/users";
const TAG = "Users";

function cookie(token: string, expire: string): string {
  return `jwt=${token}; Path=/; Expires=${new Date(expire).toUTCString()}; SameSite=Lax`;
}

/** Registers the routes. */
export function userRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createUserService>, auth: Auth): void {
  defineRoute(app, deps, { method: "post", path: `${BASE}/signup`, tag: TAG, summary: "Sign up; the first account becomes root", auth: "public", body: Signup, response: User },
    ({ body }) => service.signup(body));
  defineRoute(app, deps, { method: "post", path: `${BASE}/signin`, tag: TAG, summary: "Sign in", auth: "public", body: Signin, response: SessionToken },
    async ({ body, ip, headers }) => {
      const session = await service.signin(body.name, body.password, ip);
      headers.append("set-cookie", cookie(session.token, session.expire));
      return session;
    });
  defineRoute(app, deps, { method: "post", path: `${BASE}/signout`, tag: TAG, summary: "Sign out, revoking the session", auth: "public", empty: true },
    async ({ token, headers }) => {
      if (!token) throw new Unauthenticated("Unauthorized");
      await auth.revoke(token);
      headers.append("set-cookie", "jwt=; Path=/; Max-Age=0");
    });
  defineRoute(app, deps, { method: "post", path: `${BASE}/refresh_token`, tag: TAG, summary: "Refresh a session token", auth: "public", response: SessionToken },
    async ({ token, headers }) => {
      if (!token) throw new Unauthenticated("Unauthorized");
      const session = await auth.refresh(token);
      headers.append("set-cookie", cookie(session.token, session.expire));
      return session;
    });
  defineRoute(app, deps, { method: "post", path: `${BASE}/{id}/reset_password`, tag: TAG, summary: "Change a password (the old one is required)", auth: "public", params: IdParams, body: ResetPassword, empty: true },
    ({ params, body, ip }) => service.resetPassword(params.id, body, ip));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List users", auth: "session", query: PageQuery.extend(UserFilter.shape), response: User, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get a user", auth: "session", params: IdParams, response: User },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update a user", auth: "session", params: IdParams, body: UpdateUser, response: User },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}/roles`, tag: TAG, summary: "List a user's roles", auth: "session", params: IdParams, response: z.array(z.string()) },
    ({ actor, params }) => service.roles(actor!, params.id));
  defineRoute(app, deps, { method: "put", path: `${BASE}/{id}/roles/{role}`, tag: TAG, summary: "Grant a role", auth: "session", params: UserRoleParams, empty: true },
    ({ actor, params }) => service.addRole(actor!, params.id, params.role));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}/roles/{role}`, tag: TAG, summary: "Revoke a role", auth: "session", params: UserRoleParams, empty: true },
    ({ actor, params }) => service.removeRole(actor!, params.id, params.role));
}
