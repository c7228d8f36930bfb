/** User shapes (Dragonfly's sign-up and sign-in bodies). */
import { z } from "@hono/zod-openapi";
import { text, timestamps } from "../schemas.ts";
import { roleName } from "../roles/types.ts";

/** A user name: letters, digits, `.`, `_`, `-`. */
export const userName = () => text(64).min(1).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "Must be letters, digits, '.', '_' or '-'");
/** A password: 8 to 128 characters. */
export const password = () => text(128).min(8);

/** Body of POST /users/signup. */
export const Signup = z
  .object({
    name: userName(),
    password: password(),
    email: z.email().max(256),
    phone: text(64).optional(),
    avatar: text(2048).optional(),
    location: text(256).optional(),
    bio: text(1024).optional(),
  })
  .openapi("SignupRequest");

/** Body of POST /users/signin. */
export const Signin = z.object({ name: text(64).min(1), password: text(128).min(1) }).openapi("SigninRequest");

/** A session token. */
export const SessionToken = z.object({ token: z.string(), expire: z.string().openapi({ format: "date-time" }) }).openapi("SessionToken");

/** Body of POST /users/{id}/reset_password. */
export const ResetPassword = z.object({ old_password: text(128).min(1), new_password: password() }).openapi("ResetPasswordRequest");

/** Body of PATCH /users/{id}. */
export const UpdateUser = z
  .object({
    email: z.email().max(256).optional(),
    phone: text(64).optional(),
    avatar: text(2048).optional(),
    location: text(256).optional(),
    bio: text(1024).optional(),
    state: z.enum(["enable", "disable"]).optional(),
  })
  .openapi("UpdateUserRequest");

/** A user, without secrets. */
export const User = z
  .object({
    id: z.number().int(),
    name: z.string(),
    email: z.string(),
    phone: z.string(),
    avatar: z.string(),
    location: z.string(),
    bio: z.string(),
    state: z.string(),
    ...timestamps,
  })
  .openapi("User");

/** `{id}/roles/{role}` path. */
export const UserRoleParams = z.object({
  id: z.coerce.number().int().min(1).max(2_147_483_647).openapi({ param: { name: "id", in: "path" } }),
  role: roleName().openapi({ param: { name: "role", in: "path" } }),
});

/** Query of GET /users. */
export const UserFilter = z.object({ name: text(64).optional(), email: text(256).optional(), state: z.enum(["enable", "disable"]).optional() });
