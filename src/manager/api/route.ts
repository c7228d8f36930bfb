/**
 * One helper registers every REST route: OpenAPI metadata, validation, authentication, RBAC, then a
 * service call whose plain result becomes JSON (lists become a bare array plus a GitHub-style Link header).
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { authorize, type Action, type Actor } from "../auth/actor.ts";
import type { Auth } from "../auth/service.ts";
import { PermissionDenied, Unauthenticated } from "../errors.ts";
import { ErrorSchema, type Page } from "./schemas.ts";

/** Values the runtime entry hands to every request. */
export interface RequestBindings {
  /** The client address, when the runtime knows it. */
  ip?: string;
}

/** Hono's environment for the manager app. */
export type ApiEnv = { Bindings: RequestBindings };

/** The Hono app routes are registered on. */
export type ApiApp = OpenAPIHono<ApiEnv>;

/** How a route authenticates. */
export type RouteAuth =
  /** Anyone. */
  | "public"
  /** A signed-in user; the service checks what the user may do. */
  | "session"
  /** A signed-in user with a permission on an API group (action from the method unless given). */
  | { group: string; action?: Action }
  /** A personal access token with a scope, bounded by its owner's permission on the group. */
  | { token: "job" | "cluster"; group: string };

type Method = "get" | "post" | "put" | "patch" | "delete";
type EmptyObject = z.ZodObject<{}>;

/** What a handler receives. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The caller; undefined on public routes. */
  actor: Actor | undefined;
  /** The caller's address. */
  ip: string;
  /** The raw bearer or cookie token, for signout and refresh. */
  token: string | undefined;
  /** Headers added to the response (cookies). */
  headers: Headers;
}

/** A route's declaration. */
export interface RouteSpec<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType> {
  method: Method;
  /** OpenAPI path, e.g. `/api/v1/schedulers/{id}`. */
  path: string;
  tag: string;
  summary: string;
  auth: RouteAuth;
  params?: P;
  query?: Q;
  body?: B;
  /** Schema of the 200 answer (an item; lists are arrays of it). */
  response?: z.ZodType;
  /** The handler returns a Page, sent as an array with a Link header. */
  list?: boolean;
  /** The answer has no body. */
  empty?: boolean;
  /** A status other than 200 on success. */
  status?: 200 | 201;
}

/** Dependencies of the route helper. */
export interface RouteDeps {
  auth: Auth;
  trustProxy: boolean;
}

const ERRORS = {
  400: "Malformed input",
  401: "Not signed in, or the token is invalid",
  403: "Not allowed",
  404: "Not found, or owned by another tenant",
  409: "Conflicts with existing data",
  422: "Input fails validation",
  429: "Too many requests",
} as const;

function bearer(c: Context): string | undefined {
  const header = c.req.header("authorization");
  if (!header) return undefined;
  const [scheme, value, extra] = header.trim().split(/\s+/);
  if (extra !== undefined || !value || scheme?.toLowerCase() !== "bearer") return undefined;
  return value;
}

/** The token a session route reads: header, then cookie `jwt`, then query `token` (Dragonfly's order). */
function sessionToken(c: Context): string | undefined {
  return bearer(c) ?? getCookie(c, "jwt") ?? c.req.query("token") ?? undefined;
}

function clientIp(c: Context<ApiEnv>, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  return c.env?.ip ?? "unknown";
}

async function resolveActor(c: Context<ApiEnv>, auth: RouteAuth, deps: RouteDeps, method: Method): Promise<{ actor?: Actor; token?: string }> {
  if (auth === "public") return { token: sessionToken(c) };
  if (typeof auth === "object" && "token" in auth) {
    const token = c.req.query("access_token") ?? bearer(c);
    if (!token) throw new Unauthenticated("Unauthorized");
    const actor = await deps.auth.actorFromToken(token);
    const scopes = actor.scopes ?? [];
    if (!scopes.includes(auth.token)) throw new PermissionDenied(`Token lacks scope "${auth.token}"`);
    authorize(actor, auth.group, method === "get" ? "read" : "*");
    return { actor, token };
  }
  const token = sessionToken(c);
  if (!token) throw new Unauthenticated("Unauthorized");
  const actor = await deps.auth.actorFromJwt(token);
  if (auth !== "session") authorize(actor, auth.group, auth.action ?? (method === "get" ? "read" : "*"));
  return { actor, token };
}

/** JSON of pages already sent, by page object. */
const serializedPages = new WeakMap<object, string>();

/** Builds the `Link` header of a page; other query parameters are kept. */
export function linkHeader(url: URL, page: number, perPage: number, total: number): string {
  const last = Math.max(1, Math.ceil(total / perPage));
  const kept = new URLSearchParams(url.search);
  kept.delete("page");
  kept.delete("per_page");
  const rest = kept.size > 0 ? `&${kept.toString()}` : "";
  const at = (p: number) => `<${url.pathname}?page=${p}&per_page=${perPage}${rest}>`;
  const links = [`${at(1)}; rel="first"`];
  if (page > 1) links.push(`${at(Math.min(page - 1, last))}; rel="prev"`);
  if (page < last) links.push(`${at(page + 1)}; rel="next"`);
  links.push(`${at(last)}; rel="last"`);
  return links.join(", ");
}

/** Registers one route. */
export function defineRoute<
  P extends z.ZodObject = EmptyObject,
  Q extends z.ZodObject = EmptyObject,
  B extends z.ZodType = z.ZodUndefined,
>(
  app: ApiApp,
  deps: RouteDeps,
  spec: RouteSpec<P, Q, B>,
  handler: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<unknown>,
): void {
  const responses: Record<number, { description: string; content?: Record<string, { schema: z.ZodType }> }> = {};
  const okSchema = spec.response ? (spec.list ? z.array(spec.response) : spec.response) : undefined;
  responses[spec.status ?? 200] = {
    description: spec.list ? "A page of results; see the Link header" : "Success",
    ...(okSchema && !spec.empty ? { content: { "application/json": { schema: okSchema } } } : {}),
  };
  for (const [status, description] of Object.entries(ERRORS)) {
    const code = Number(status);
    if (spec.auth === "public" && (code === 401 || code === 403)) continue;
    responses[code] = { description, content: { "application/json": { schema: ErrorSchema } } };
  }
  const security =
    typeof spec.auth === "string" ? (spec.auth === "public" ? [] : [{ session: [] }]) : "token" in spec.auth ? [{ personalAccessToken: [] }] : [{ session: [] }];
  const route = createRoute({
    method: spec.method,
    path: spec.path,
    tags: [spec.tag],
    summary: spec.summary,
    security,
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: { content: { "application/json": { schema: spec.body } }, required: true } } : {}),
    },
    responses,
  });
  const run = async (c: Context<ApiEnv>) => {
    const { actor, token } = await resolveActor(c, spec.auth, deps, spec.method);
    const valid = (target: string) => (c.req.valid as (t: string) => unknown)(target);
    const headers = new Headers();
    const result = await handler({
      params: (spec.params ? valid("param") : {}) as z.output<P>,
      query: (spec.query ? valid("query") : {}) as z.output<Q>,
      body: (spec.body ? valid("json") : undefined) as z.output<B>,
      actor,
      ip: clientIp(c, deps.trustProxy),
      token,
      headers,
    });
    const status = spec.status ?? 200;
    if (spec.list) {
      const page = result as Page<unknown>;
      const query = valid("query") as { page: number; per_page: number };
      headers.set("link", linkHeader(new URL(c.req.url), query.page, query.per_page, page.total));
      // Services hand out the same Page object while it is cached; serialize it once.
      let body = serializedPages.get(page);
      if (body === undefined) {
        body = JSON.stringify(page.items);
        serializedPages.set(page, body);
      }
      return new Response(body, { status, headers: withJson(headers) });
    }
    if (spec.empty) return new Response(null, { status, headers });
    return new Response(JSON.stringify(result ?? null), { status, headers: withJson(headers) });
  };
  (app.openapi as (route: unknown, handler: (c: Context<ApiEnv>) => Promise<Response>) => void)(route, run);
}

function withJson(headers: Headers): Headers {
  headers.set("content-type", "application/json");
  return headers;
}
