/**
 * The manager as one Hono app that needs only Web APIs: REST under /api/v1 and /oapi/v1, Connect-RPC
 * manager.v2.Manager (Connect and gRPC-web over HTTP/1.1), /healthy and /metrics. Runtime entries wrap it.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { LibellulaError } from "../common/errors.ts";
import type { Logger } from "../common/log.ts";
import { createLogger } from "../common/log.ts";
import { Registry } from "../common/metrics.ts";
import { createAuth } from "./auth/service.ts";
import type { ManagerConfig } from "./config.ts";
import type { Database } from "./db/database.ts";
import { fromDriverError, HTTP_STATUS } from "./errors.ts";
import type { ApiEnv, RequestBindings, RouteDeps } from "./api/route.ts";
import { createServices, type Services } from "./services.ts";
import { registerRoutes } from "./api/index.ts";
import { createRpcHandler } from "./rpc/handler.ts";
import { serveConsole } from "../../web/serve.ts";

/** Dependencies of the app. */
export interface AppOptions {
  db: Database;
  config: ManagerConfig;
  log?: Logger;
}

/** The app and the parts entry points also need. */
export interface ManagerApp {
  /** The Hono app (REST, RPC, ops). */
  readonly app: OpenAPIHono<ApiEnv>;
  /** The fetch handler entries serve. */
  fetch(request: Request, bindings?: RequestBindings): Promise<Response>;
  readonly services: Services;
  readonly metrics: Registry;
}

/** Methods whose body is JSON on the REST API. */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Builds the manager app. */
export function createApp(options: AppOptions): ManagerApp {
  const { db, config } = options;
  const log = options.log ?? createLogger({ component: "manager" });
  const metrics = new Registry();
  const requests = metrics.counter("libellula_manager_http_requests_total", "HTTP requests by status class");
  const auth = createAuth({ db, config });
  const services = createServices({ db, config, auth });
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const detail = result.error.issues
          .map((issue) => `${issue.path.length > 0 ? `"${issue.path.join(".")}"` : result.target}: ${issue.message}`)
          .join("; ");
        return c.json({ message: `Invalid ${result.target}: ${detail}`, errors: detail }, 422);
      }
    },
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json({ message: error.message || "Bad request" }, error.status);
    }
    const translated = fromDriverError(error);
    if (translated instanceof LibellulaError) {
      const status = HTTP_STATUS[translated.code];
      if (status) return c.json({ message: translated.message }, status as 400);
    }
    log.error("Request failed", { path: c.req.path, method: c.req.method, error });
    return c.json({ message: "Internal error" }, 500);
  });
  // Anything else is the console (web/): its files, or index.html for its deep links.
  app.notFound((c) => serveConsole(c.req.raw) ?? c.json({ message: `Not found: "${c.req.path}"` }, 404));

  app.get("/healthy", (c) => c.json("OK"));
  app.get("/metrics", (c) => c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }));

  const routeDeps: RouteDeps = { auth, trustProxy: config.server.trustProxy };
  registerRoutes(app, routeDeps, services);

  const rpc = createRpcHandler({ services, auth, config });
  app.all("/manager.v2.Manager/*", (c) => rpc(c.req.raw));
  app.all("/libellula.manager.v1.ManagerExt/*", (c) => rpc(c.req.raw));

  app.openAPIRegistry.registerComponent("securitySchemes", "session", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.openAPIRegistry.registerComponent("securitySchemes", "personalAccessToken", { type: "http", scheme: "bearer" });

  return {
    app,
    services,
    metrics,
    async fetch(request: Request, bindings: RequestBindings = {}): Promise<Response> {
      const response = await app.fetch(normalize(request), bindings);
      requests.inc({ code: `${Math.floor(response.status / 100)}xx` });
      return response;
    },
  };
}

/**
 * Treats REST bodies as JSON whatever their Content-Type says, as Dragonfly does (`curl -d` sends a form
 * type), so validation answers about the body rather than 415.
 */
function normalize(request: Request): Request {
  if (!BODY_METHODS.has(request.method)) return request;
  const type = request.headers.get("content-type") ?? "";
  if (/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) return request;
  const path = new URL(request.url).pathname;
  if (!path.startsWith("/api/") && !path.startsWith("/oapi/")) return request;
  const headers = new Headers(request.headers);
  headers.set("content-type", "application/json");
  return new Request(request, { headers });
}

/** The OpenAPI 3.0 document of the REST API. */
export function openApiDocument(app: OpenAPIHono<ApiEnv>) {
  return app.getOpenAPIDocument({
    openapi: "3.0.3",
    info: {
      title: "Libellula manager",
      version: "1.0.0",
      description: "REST API of the Libellula manager, compatible with Dragonfly v2's manager where tools rely on it",
    },
    servers: [{ url: "http://localhost:8080" }],
  });
}
