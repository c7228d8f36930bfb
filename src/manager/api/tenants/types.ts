/** Tenant shapes. */
import { z } from "@hono/zod-openapi";
import { name, text, timestamps } from "../schemas.ts";

/** Body of POST /tenants. */
export const CreateTenant = z.object({ name: name(1, 256), bio: text(1024).optional() }).openapi("CreateTenantRequest");

/** Body of PATCH /tenants/{id}. */
export const UpdateTenant = CreateTenant.partial().openapi("UpdateTenantRequest");

/** A tenant. */
export const Tenant = z.object({ id: z.number().int(), name: z.string(), bio: z.string(), ...timestamps }).openapi("Tenant");
