/** Config shapes: global name/value rows (`gc` is built in). */
import { z } from "@hono/zod-openapi";
import { id, name, text, timestamps } from "../schemas.ts";

/** Body of POST /configs. */
export const CreateConfig = z
  .object({ name: name(1, 256), value: text(1024), bio: text(1024).optional(), user_id: id().optional() })
  .openapi("CreateConfigRequest");

/** Body of PATCH /configs/{id}. */
export const UpdateConfig = CreateConfig.partial().openapi("UpdateConfigRequest");

/** A config row. */
export const Config = z
  .object({ id: z.number().int(), name: z.string(), value: z.string(), bio: z.string(), user_id: z.number().int().nullable(), ...timestamps })
  .openapi("Config");

/** Query of GET /configs. */
export const ConfigFilter = z.object({ name: text(256).optional() });
