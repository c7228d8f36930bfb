/** REST routes of /api/v1/personal-access-tokens. */
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import { IdParams, PageQuery } from "../schemas.ts";
import type { createTokenService } from "./service.ts";
import { CreatedToken, CreateToken, Token, TokenFilter, UpdateToken } from "./types.ts";

const BASE = "/api/v1/personal-access-tokens";
const TAG = "Personal access tokens";
const auth = { group: "personal-access-tokens" };

/** Registers the routes. */
export function tokenRoutes(app: ApiApp, deps: RouteDeps, service: ReturnType<typeof createTokenService>): void {
  defineRoute(app, deps, { method: "post", path: BASE, tag: TAG, summary: "Create a token; the answer is the only time it is shown", auth, body: CreateToken, response: CreatedToken },
    ({ actor, body }) => service.create(actor!, body));
  defineRoute(app, deps, { method: "get", path: BASE, tag: TAG, summary: "List the caller's tokens", auth, query: PageQuery.extend(TokenFilter.shape), response: Token, list: true },
    ({ actor, query }) => service.list(actor!, query));
  defineRoute(app, deps, { method: "get", path: `${BASE}/{id}`, tag: TAG, summary: "Get a token", auth, params: IdParams, response: Token },
    ({ actor, params }) => service.get(actor!, params.id));
  defineRoute(app, deps, { method: "patch", path: `${BASE}/{id}`, tag: TAG, summary: "Update or revoke (state inactive) a token", auth, params: IdParams, body: UpdateToken, response: Token },
    ({ actor, params, body }) => service.update(actor!, params.id, body));
  defineRoute(app, deps, { method: "delete", path: `${BASE}/{id}`, tag: TAG, summary: "Delete a token", auth, params: IdParams, empty: true },
    ({ actor, params }) => service.remove(actor!, params.id));
}
