/** Personal access token shapes; the token itself appears only in the creation answer. */
import { z } from "@hono/zod-openapi";
import { id, name, text, timestamps } from "../schemas.ts";

/** Scopes a token can carry: `/oapi/v1/jobs` and `/oapi/v1/clusters`, and `rpc` for manager RPCs. */
export const SCOPES = ["job", "cluster", "rpc"] as const;

/** Body of POST /personal-access-tokens. */
export const CreateToken = z
  .object({
    name: name(1, 256),
    bio: text(1024).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length).default(["job", "cluster"]),
    expired_at: z.iso.datetime({ offset: true }).openapi({ format: "date-time" }),
    user_id: id().optional(),
    tenant_id: id().optional(),
  })
  .openapi("CreatePersonalAccessTokenRequest");

/** Body of PATCH /personal-access-tokens/{id}. */
export const UpdateToken = z
  .object({
    bio: text(1024).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length).optional(),
    state: z.enum(["active", "inactive"]).optional(),
    expired_at: z.iso.datetime({ offset: true }).optional().openapi({ format: "date-time" }),
  })
  .openapi("UpdatePersonalAccessTokenRequest");

/** A token without its secret. */
export const Token = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    user_id: z.number().int(),
    name: z.string(),
    bio: z.string(),
    token_prefix: z.string(),
    scopes: z.array(z.string()),
    state: z.enum(["active", "inactive"]),
    expired_at: z.string(),
    last_used_at: z.string().nullable(),
    ...timestamps,
  })
  .openapi("PersonalAccessToken");

/** The creation answer: the token, shown once. */
export const CreatedToken = Token.extend({ token: z.string() }).openapi("CreatedPersonalAccessToken");

/** Query of GET /personal-access-tokens. */
export const TokenFilter = z.object({ name: text(256).optional(), state: z.enum(["active", "inactive"]).optional() });
