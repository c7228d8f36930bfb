/** A real manager process (embedded PGlite in a data directory) and a small REST client for tests. */
import { join } from "node:path";
import { freePort, spawnDaemon, tempDir, waitFor, type Daemon } from "./processes.ts";

/** Password of the root account the test manager creates. */
export const ROOT_PASSWORD = "root-password-1234";

/** A spawned manager. */
export interface ManagerDaemon extends Daemon {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `127.0.0.1:<grpc port>`. */
  grpc: string;
  dataDir: string;
  httpPort: number;
  grpcPort: number;
}

/** Spawns a manager; pass the ports and data directory of a stopped one to restart it. */
export async function spawnManager(options: { dataDir?: string; httpPort?: number; grpcPort?: number } = {}): Promise<ManagerDaemon> {
  const [httpPort, grpcPort] = [options.httpPort ?? (await freePort()), options.grpcPort ?? (await freePort())];
  const dataDir = options.dataDir ?? join(tempDir(), "manager");
  // spawnDaemon passes the environment on when it is called (synchronously); the password is set only for that
  // moment, so test files run later in the same process do not inherit a root account they did not ask for.
  const saved = process.env.LIBELLULA_INITIAL_ROOT_PASSWORD;
  process.env.LIBELLULA_INITIAL_ROOT_PASSWORD = ROOT_PASSWORD;
  const spawned = spawnDaemon("manager", ["--port", String(httpPort), "--grpc-port", String(grpcPort), "--data-dir", dataDir], /^Listening$/, 60_000);
  if (saved === undefined) delete process.env.LIBELLULA_INITIAL_ROOT_PASSWORD;
  else process.env.LIBELLULA_INITIAL_ROOT_PASSWORD = saved;
  const daemon = await spawned;
  return { ...daemon, url: `http://127.0.0.1:${httpPort}`, grpc: `127.0.0.1:${grpcPort}`, dataDir, httpPort, grpcPort };
}

/** An answer of the REST API. */
export interface ApiAnswer {
  status: number;
  body: any;
}

/** Calls the manager's REST API with an optional bearer token. */
export async function api(base: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${base}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON; the text is the body.
  }
  return { status: response.status, body };
}

/** Signs in as root and returns the session token. */
export async function rootToken(base: string): Promise<string> {
  const answer = await api(base, "POST", "/api/v1/users/signin", { body: { name: "root", password: ROOT_PASSWORD } });
  if (answer.status !== 200) throw new Error(`Cannot sign in: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.token as string;
}

/** Creates a personal access token with the given scopes. */
export async function personalAccessToken(base: string, session: string, scopes: string[] = ["job"]): Promise<string> {
  const expired_at = new Date(Date.now() + 3600_000).toISOString();
  const answer = await api(base, "POST", "/api/v1/personal-access-tokens", { token: session, body: { name: `pat-${crypto.randomUUID()}`, scopes, expired_at } });
  if (answer.status !== 200) throw new Error(`Cannot create a token: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.token as string;
}

/** Creates a job and waits until it leaves PENDING; returns the final job. */
export async function runJob(base: string, token: string, body: unknown, path = "/api/v1/jobs", timeoutMs = 60_000) {
  const created = await api(base, "POST", path, { token, body });
  if (created.status !== 200) throw new Error(`Cannot create the job: ${created.status} ${JSON.stringify(created.body)}`);
  return await waitJob(base, token, created.body.id as number, path, timeoutMs);
}

/** Waits until a job leaves PENDING; returns it. */
export async function waitJob(base: string, token: string, id: number, path = "/api/v1/jobs", timeoutMs = 60_000) {
  return await waitFor(
    async () => {
      const answer = await api(base, "GET", `${path}/${id}`, { token });
      if (answer.status !== 200) throw new Error(`Cannot get job ${id}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.state === "PENDING" ? undefined : answer.body;
    },
    `job ${id} to end`,
    timeoutMs,
  );
}
