/** The manager's configuration: YAML keys in camelCase, validated by zod, overridable by flags and env. */
import { z } from "zod";

/** Default REST/Connect port. */
export const DEFAULT_PORT = 8080;
/** Default gRPC (HTTP/2) port of the Bun entry. */
export const DEFAULT_GRPC_PORT = 65003;
/** PBKDF2 iterations; OWASP's 2023 figure for PBKDF2-HMAC-SHA256 and the floor accepted. */
export const MIN_PBKDF2_ITERATIONS = 600_000;
/** Session token lifetime. */
export const DEFAULT_JWT_TTL_SECONDS = 24 * 3600;
/** How long a session can be refreshed after sign-in (Dragonfly: 7 days). */
export const DEFAULT_MAX_REFRESH_SECONDS = 7 * 24 * 3600;
/** Sign-in attempts allowed per name and address in one window. */
export const DEFAULT_SIGNIN_ATTEMPTS = 10;
/** The sign-in rate-limit window. */
export const DEFAULT_SIGNIN_WINDOW_SECONDS = 60;
/** Heartbeat interval assumed for schedulers that do not say (Dragonfly's 5 s). */
export const DEFAULT_KEEP_ALIVE_INTERVAL_MS = 5000;
/** How long read caches (actors, cluster lists, searcher answers) live; writes here clear them at once. */
export const DEFAULT_CACHE_TTL_MS = 1000;

/** The config schema. */
export const managerConfigSchema = z
  .object({
    server: z
      .object({
        host: z.string().default("0.0.0.0"),
        port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
        grpcPort: z.number().int().min(0).max(65535).default(DEFAULT_GRPC_PORT),
        /** Take the client address from X-Forwarded-For (behind a trusted proxy only). */
        trustProxy: z.boolean().default(false),
      })
      .strict()
      .default({ host: "0.0.0.0", port: DEFAULT_PORT, grpcPort: DEFAULT_GRPC_PORT, trustProxy: false }),
    database: z
      .object({
        /** PostgreSQL URL; `DATABASE_URL` sets it too. Empty = embedded PGlite. */
        url: z.string().optional(),
        /** PGlite data directory. */
        dataDir: z.string().optional(),
        poolSize: z.number().int().min(1).max(1000).default(10),
      })
      .strict()
      .default({ poolSize: 10 }),
    auth: z
      .object({
        jwt: z
          .object({
            /** HS256 key; when absent one is generated once and kept in the database. */
            key: z.string().min(32).optional(),
            ttlSeconds: z.number().int().min(60).default(DEFAULT_JWT_TTL_SECONDS),
            maxRefreshSeconds: z.number().int().min(60).default(DEFAULT_MAX_REFRESH_SECONDS),
          })
          .strict()
          .default({ ttlSeconds: DEFAULT_JWT_TTL_SECONDS, maxRefreshSeconds: DEFAULT_MAX_REFRESH_SECONDS }),
        pbkdf2Iterations: z.number().int().min(MIN_PBKDF2_ITERATIONS).default(MIN_PBKDF2_ITERATIONS),
        signinAttempts: z.number().int().min(1).default(DEFAULT_SIGNIN_ATTEMPTS),
        signinWindowSeconds: z.number().int().min(1).default(DEFAULT_SIGNIN_WINDOW_SECONDS),
        /** Whether anyone may sign up after the first (root) account exists. */
        openSignup: z.boolean().default(true),
        /** Password of a root account created on an empty database (env LIBELLULA_INITIAL_ROOT_PASSWORD). */
        initialRootPassword: z.string().min(8).max(128).optional(),
      })
      .strict()
      .default({
        jwt: { ttlSeconds: DEFAULT_JWT_TTL_SECONDS, maxRefreshSeconds: DEFAULT_MAX_REFRESH_SECONDS },
        pbkdf2Iterations: MIN_PBKDF2_ITERATIONS,
        signinAttempts: DEFAULT_SIGNIN_ATTEMPTS,
        signinWindowSeconds: DEFAULT_SIGNIN_WINDOW_SECONDS,
        openSignup: true,
      }),
    rpc: z
      .object({
        /** Tenant of RPC callers without a token (schedulers, dfdaemons); null requires a token. */
        anonymousTenantId: z.number().int().min(1).nullable().default(1),
      })
      .strict()
      .default({ anonymousTenantId: 1 }),
    keepAlive: z
      .object({ intervalMs: z.number().int().min(10).default(DEFAULT_KEEP_ALIVE_INTERVAL_MS) })
      .strict()
      .default({ intervalMs: DEFAULT_KEEP_ALIVE_INTERVAL_MS }),
    cache: z.object({ ttlMs: z.number().int().min(0).default(DEFAULT_CACHE_TTL_MS) }).strict().default({ ttlMs: DEFAULT_CACHE_TTL_MS }),
  })
  .strict();

/** A validated manager config. */
export type ManagerConfig = z.output<typeof managerConfigSchema>;

/** The config with every default, for tests and the edge entry. */
export function defaultConfig(overrides: Record<string, unknown> = {}): ManagerConfig {
  return managerConfigSchema.parse(overrides);
}
