/** Zod building blocks shared by every resource: safe text, JSON objects, ids, pages and errors. */
import { z } from "@hono/zod-openapi";

/** Text PostgreSQL can store: no NUL and no unpaired UTF-16 surrogates. */
const STORABLE = /^(?:[^\u0000\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;
/** Largest serialized size of a free-form JSON value. */
export const MAX_JSON_BYTES = 64 * 1024;
/** Deepest nesting of a free-form JSON value. */
export const MAX_JSON_DEPTH = 16;
/** Largest 32-bit id. */
export const MAX_ID = 2_147_483_647;

/** A storable string of at most `max` characters. */
export function text(max = 1024) {
  return z.string().max(max).regex(STORABLE, "Must not contain NUL or unpaired surrogates");
}

/** A storable string of `min` to `max` characters. */
export function name(min = 1, max = 256) {
  return text(max).min(min);
}

function storableJson(value: unknown, depth: number): string | undefined {
  if (depth > MAX_JSON_DEPTH) return "is nested too deeply";
  if (typeof value === "string") return STORABLE.test(value) ? undefined : "contains NUL or unpaired surrogates";
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "contains a non-finite number";
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = storableJson(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!STORABLE.test(key)) return "has a key with NUL or unpaired surrogates";
      const problem = storableJson(item, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** Refines any schema so its value can be stored as jsonb. */
export function storable<T extends z.ZodType>(schema: T) {
  return schema.superRefine((value, ctx) => {
    const problem = storableJson(value, 0);
    if (problem) ctx.addIssue({ code: "custom", message: `Value ${problem}` });
    else if (JSON.stringify(value ?? null).length > MAX_JSON_BYTES) ctx.addIssue({ code: "custom", message: "Value is too large" });
  });
}

/** A free-form JSON object. */
export const jsonObject = () => storable(z.record(z.string(), z.unknown()));

/** A positive 32-bit row id. */
export const id = () => z.coerce.number().int().min(1).max(MAX_ID);

/** `{id}` path parameter. */
export const IdParams = z.object({ id: id().openapi({ param: { name: "id", in: "path" }, example: 1 }) });

/** Dragonfly's pagination: `page` from 1, `per_page` (default 10). */
export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).max(MAX_ID).default(1).openapi({ example: 1 }),
  per_page: z.coerce.number().int().min(1).max(10_000_000).default(10).openapi({ example: 10 }),
});

/** A page of rows and the total, for the Link header. */
export interface Page<T> {
  items: T[];
  total: number;
}

/** An IPv4 or IPv6 address. */
export const ip = () => z.union([z.ipv4(), z.ipv6()]);

/** A TCP port. */
export const port = () => z.number().int().min(0).max(65535);

/** The error body. */
export const ErrorSchema = z
  .object({
    message: z.string().openapi({ example: 'Scheduler cluster "7" not found' }),
    errors: z.string().optional().openapi({ description: "Validation detail, as Dragonfly's 422 answers" }),
  })
  .openapi("Error");

/** Timestamps of every row. */
export const timestamps = {
  created_at: z.string().openapi({ format: "date-time" }),
  updated_at: z.string().openapi({ format: "date-time" }),
};
