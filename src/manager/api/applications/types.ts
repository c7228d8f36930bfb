/** Application shapes: name, url and download priority rules. */
import { z } from "@hono/zod-openapi";
import { id, name, text, timestamps } from "../schemas.ts";

/** Priority levels 0–6 (common.v2.Priority). */
const level = () => z.number().int().min(0).max(6);

/** Priority rules: a default level and URL regexes with their own. */
export const Priority = z
  .object({
    value: level(),
    urls: z
      .array(
        z.object({
          regex: text(1024).refine((r) => {
            try {
              new RegExp(r);
              return true;
            } catch {
              return false;
            }
          }, "Must be a valid regular expression"),
          value: level(),
        }),
      )
      .max(100)
      .optional(),
  })
  .openapi("ApplicationPriority");

/** Body of POST /applications. */
export const CreateApplication = z
  .object({
    name: name(1, 256),
    url: text(2048).optional(),
    bio: text(1024).optional(),
    priority: Priority.optional(),
    user_id: id().optional(),
    tenant_id: id().optional(),
  })
  .openapi("CreateApplicationRequest");

/** Body of PATCH /applications/{id}. */
export const UpdateApplication = CreateApplication.omit({ tenant_id: true }).partial().openapi("UpdateApplicationRequest");

/** An application. */
export const Application = z
  .object({
    id: z.number().int(),
    tenant_id: z.number().int(),
    name: z.string(),
    url: z.string(),
    bio: z.string(),
    priority: z.record(z.string(), z.unknown()),
    user_id: z.number().int().nullable(),
    ...timestamps,
  })
  .openapi("Application");

/** Query of GET /applications. */
export const ApplicationFilter = z.object({ name: text(256).optional() });
