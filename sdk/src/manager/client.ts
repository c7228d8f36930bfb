/**
 * A typed client of the manager's REST API: `request()` for any operation of openapi.yaml (types generated into
 * schema.gen.ts), and helpers for sign-in, clusters, jobs (preheat and waiting for a job) and personal access tokens.
 */
import { SdkError, type SdkErrorCode } from "../errors.ts";
import type { Cluster, CreateClusterRequest, CreatedPersonalAccessToken, CreateJobRequest, Job, Paths, PersonalAccessToken, Scheduler, SessionToken, UpdateClusterRequest } from "./schema.gen.ts";

/** HTTP methods of the API. */
export type Method = "get" | "post" | "put" | "patch" | "delete";

/** Paths that have an operation for `M`. */
export type PathsWith<M extends Method> = { [P in keyof Paths]: M extends keyof Paths[P] ? P : never }[keyof Paths];

/** The operation of a path and method. */
export type Operation<P extends keyof Paths, M extends Method> = M extends keyof Paths[P] ? Paths[P][M] : never;

interface OperationShape {
  path: unknown;
  query: unknown;
  body: unknown;
  bodyRequired: boolean;
  response: unknown;
}

/** What one call takes: path parameters, query, body (each only where the operation has them), a signal. */
export type RequestInit<O> = O extends OperationShape
  ? { signal?: AbortSignal; headers?: Record<string, string> }
    & ([O["path"]] extends [never] ? { path?: undefined } : { path: O["path"] })
    & ([O["query"]] extends [never] ? { query?: undefined } : { query?: O["query"] })
    & ([O["body"]] extends [never] ? { body?: undefined } : O["bodyRequired"] extends true ? { body: O["body"] } : { body?: O["body"] })
  : never;

/** The argument list after the path: optional when nothing in it is required. */
export type RequestArgs<O> = {} extends RequestInit<O> ? [init?: RequestInit<O>] : [init: RequestInit<O>];

/** The success body of an operation. */
export type ResponseOf<O> = O extends OperationShape ? O["response"] : never;

/** Options of `createManagerClient()`. */
export interface ManagerClientOptions {
  /** The manager's HTTP address, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A session token (from `signin()`), sent as a bearer token; jobs and clusters use `/api/v1`. */
  token?: string;
  /** A personal access token; jobs and clusters then use `/oapi/v1`, the routes tokens may call. */
  personalAccessToken?: string;
  /** The fetch to use; the global one when absent. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/** Preheat args as the API takes them (Dragonfly's names); see the README's preheat section. */
export interface PreheatArgs {
  type: "file" | "image";
  /** A file URL, or an image manifest URL `scheme://registry/v2/<repo>/manifests/<ref>`. */
  url?: string;
  /** Several file URLs in one job. */
  urls?: string[];
  tag?: string;
  application?: string;
  /** Query keys ignored in task IDs, `&`-joined. */
  filtered_query_params?: string;
  /** Headers sent to the origin or registry. */
  headers?: Record<string, string>;
  piece_length?: number;
  /** Registry credentials for image preheat. */
  username?: string;
  password?: string;
  /** `os/arch` of the image to preheat; linux/amd64 when absent. */
  platform?: string;
  scope?: "single_seed_peer" | "all_seed_peers" | "all_peers";
  ips?: string[];
  count?: number;
  percentage?: number;
  concurrent_task_count?: number;
  concurrent_peer_count?: number;
  /** Go nanoseconds. */
  timeout?: number;
}

/** Progress of `waitForJob()`, after every poll. */
export interface JobProgress {
  job: Job;
  polls: number;
  elapsedMs: number;
}

/** Options of `waitForJob()`. */
export interface WaitForJobOptions {
  /** Time between polls, ms; 1000 when absent. */
  intervalMs?: number;
  /** Give up after this long, ms; 10 minutes when absent. */
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (progress: JobProgress) => void;
}

/** Options of `personalAccessTokens.create()`. */
export interface CreateTokenOptions {
  scopes?: ("job" | "cluster" | "rpc")[];
  /** When it expires; in 30 days when absent. */
  expiresAt?: Date;
  bio?: string;
}

/** Default time between job polls. */
export const DEFAULT_POLL_INTERVAL_MS = 1000;
/** Default time to wait for a job. */
export const DEFAULT_JOB_TIMEOUT_MS = 600_000;
/** Default lifetime of a created personal access token. */
const DEFAULT_TOKEN_LIFETIME_MS = 30 * 86_400_000;

const STATUS_CODES: Record<number, SdkErrorCode> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  409: "conflict",
  422: "invalid_argument",
  429: "resource_exhausted",
  501: "unimplemented",
  502: "unavailable",
  503: "unavailable",
  504: "deadline_exceeded",
};

function statusCode(status: number): SdkErrorCode {
  return STATUS_CODES[status] ?? (status >= 500 ? "internal" : "unknown");
}

/** A client of one manager. */
export interface ManagerClient {
  /** Calls any operation of the API with typed parameters, body and answer; throws SdkError on a non-2xx answer. */
  request<M extends Method, P extends PathsWith<M>>(method: M, path: P, ...args: RequestArgs<Operation<P, M>>): Promise<ResponseOf<Operation<P, M>>>;
  /** Signs in with a name and password; later calls use the session token. */
  signin(name: string, password: string): Promise<SessionToken>;
  /** Ends the session and forgets its token. */
  signout(): Promise<void>;
  /** Uses a token from now on: a session token, or a personal access token with `{ personalAccessToken: true }`. */
  setToken(token: string | undefined, options?: { personalAccessToken?: boolean }): void;
  clusters: {
    list(query?: { page?: number; per_page?: number; name?: string }): Promise<Cluster[]>;
    get(id: number): Promise<Cluster>;
    create(body: CreateClusterRequest): Promise<Cluster>;
    update(id: number, body: UpdateClusterRequest): Promise<Cluster>;
    delete(id: number): Promise<void>;
  };
  schedulers: {
    list(query?: { page?: number; per_page?: number; scheduler_cluster_id?: number }): Promise<Scheduler[]>;
  };
  jobs: {
    list(query?: { page?: number; per_page?: number; type?: Job["type"]; state?: Job["state"] }): Promise<Job[]>;
    get(id: number): Promise<Job>;
    create(body: CreateJobRequest): Promise<Job>;
    /** Creates a preheat job for the given scheduler clusters (every cluster of the tenant when absent). */
    createPreheat(args: PreheatArgs, options?: { schedulerClusterIds?: number[]; bio?: string }): Promise<Job>;
    /** Polls a job until it leaves PENDING and returns it (SUCCESS or FAILURE: check `state`). */
    waitForJob(id: number, options?: WaitForJobOptions): Promise<Job>;
  };
  personalAccessTokens: {
    list(): Promise<PersonalAccessToken[]>;
    /** Creates a token; its secret (`token`) is in this answer only. */
    create(name: string, options?: CreateTokenOptions): Promise<CreatedPersonalAccessToken>;
    delete(id: number): Promise<void>;
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Creates a client of the manager at `baseUrl`. */
export function createManagerClient(options: ManagerClientOptions): ManagerClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  try {
    new URL(baseUrl);
  } catch (cause) {
    throw new SdkError("invalid_argument", `Invalid option "baseUrl" "${options.baseUrl}": not a URL`, { cause });
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  let token = options.personalAccessToken ?? options.token;
  let personal = options.personalAccessToken !== undefined;

  async function call(method: Method, pathTemplate: string, init: { path?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<unknown> {
    const path = pathTemplate.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = init.path?.[name];
      if (value === undefined || value === null || value === "") throw new SdkError("invalid_argument", `Invalid request to ${pathTemplate}: path parameter "${name}" is required`);
      return encodeURIComponent(String(value));
    });
    const url = new URL(baseUrl + path);
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value === undefined || value === null) continue;
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
    }
    const headers: Record<string, string> = { accept: "application/json", ...options.headers, ...init.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const label = `${method.toUpperCase()} ${path}`;
    let response: Response;
    try {
      response = await doFetch(url, { method: method.toUpperCase(), headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}), ...(init.signal ? { signal: init.signal } : {}) });
    } catch (cause) {
      if (init.signal?.aborted) throw new SdkError("canceled", `${label} canceled`, { cause });
      throw new SdkError("unavailable", `Cannot reach the manager at "${baseUrl}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const text = await response.text();
    let body: unknown = undefined;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!response.ok) {
      const detail = body && typeof body === "object" && "message" in body ? String((body as { message: unknown }).message) : text || response.statusText;
      throw new SdkError(statusCode(response.status), `${label} failed with ${response.status}: ${detail}`, { status: response.status });
    }
    return body;
  }

  const request = ((method: Method, path: string, init?: Parameters<typeof call>[2]) => call(method, path, init)) as ManagerClient["request"];
  /** Jobs and clusters: `/oapi/v1` for personal access tokens, `/api/v1` for sessions. */
  const prefix = () => (personal ? "/oapi/v1" : "/api/v1");

  const jobs: ManagerClient["jobs"] = {
    list: async (query = {}) => (await call("get", `${prefix()}/jobs`, { query })) as Job[],
    get: async (id) => (await call("get", `${prefix()}/jobs/{id}`, { path: { id } })) as Job,
    create: async (body) => (await call("post", `${prefix()}/jobs`, { body })) as Job,
    createPreheat: async (args, opts = {}) =>
      await jobs.create({
        type: "preheat",
        args: { ...args } as Record<string, unknown>,
        ...(opts.schedulerClusterIds ? { scheduler_cluster_ids: opts.schedulerClusterIds } : {}),
        ...(opts.bio !== undefined ? { bio: opts.bio } : {}),
      }),
    async waitForJob(id, opts = {}) {
      const interval = opts.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
      const timeout = opts.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
      const started = Date.now();
      for (let polls = 1; ; polls++) {
        if (opts.signal?.aborted) throw new SdkError("canceled", `Waiting for job ${id} canceled`, { cause: opts.signal.reason });
        const job = await jobs.get(id);
        const elapsedMs = Date.now() - started;
        opts.onProgress?.({ job, polls, elapsedMs });
        if (job.state !== "PENDING") return job;
        if (elapsedMs + interval > timeout) throw new SdkError("deadline_exceeded", `Job ${id} is still PENDING after ${elapsedMs} ms`);
        try {
          await sleep(interval, opts.signal);
        } catch (cause) {
          throw new SdkError("canceled", `Waiting for job ${id} canceled`, { cause });
        }
      }
    },
  };

  return {
    request,
    async signin(name, password) {
      const session = await request("post", "/api/v1/users/signin", { body: { name, password } });
      token = session.token;
      personal = false;
      return session;
    },
    async signout() {
      await request("post", "/api/v1/users/signout");
      token = undefined;
    },
    setToken(next, opts = {}) {
      token = next;
      personal = opts.personalAccessToken ?? false;
    },
    clusters: {
      list: async (query = {}) => (await call("get", `${prefix()}/clusters`, { query })) as Cluster[],
      get: async (id) => (await call("get", `${prefix()}/clusters/{id}`, { path: { id } })) as Cluster,
      create: async (body) => (await call("post", `${prefix()}/clusters`, { body })) as Cluster,
      update: async (id, body) => (await call("patch", `${prefix()}/clusters/{id}`, { path: { id }, body })) as Cluster,
      delete: async (id) => void (await call("delete", `${prefix()}/clusters/{id}`, { path: { id } })),
    },
    schedulers: {
      list: async (query = {}) => await request("get", "/api/v1/schedulers", { query }),
    },
    jobs,
    personalAccessTokens: {
      list: async () => await request("get", "/api/v1/personal-access-tokens"),
      create: async (name, opts = {}) =>
        await request("post", "/api/v1/personal-access-tokens", {
          body: {
            name,
            expired_at: (opts.expiresAt ?? new Date(Date.now() + DEFAULT_TOKEN_LIFETIME_MS)).toISOString(),
            ...(opts.scopes ? { scopes: opts.scopes } : {}),
            ...(opts.bio !== undefined ? { bio: opts.bio } : {}),
          },
        }),
      delete: async (id) => void (await request("delete", "/api/v1/personal-access-tokens/{id}", { path: { id } })),
    },
  };
}
