/**
 * manager.v2.Manager and libellula.manager.v1.ManagerExt over Connect. The same routes serve the Hono app
 * (Connect and gRPC-web over HTTP/1.1, through Connect's fetch handler) and the Bun entry's HTTP/2 gRPC listener.
 */
import { create, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { LibellulaError, errorMessage } from "../../common/errors.ts";
import {
  ApplicationSchema,
  ListApplicationsResponseSchema,
  ListSchedulersRequestSchema,
  ListSchedulersResponseSchema,
  ListSeedPeersResponseSchema,
  Manager,
  SchedulerClusterSchema,
  SchedulerSchema,
  SeedPeerClusterSchema,
  SeedPeerSchema,
  SourceType,
  type KeepAliveRequest,
  type Scheduler,
  type SeedPeer,
} from "../../gen/manager/v2/manager_pb.ts";
import {
  ClaimJobTasksResponseSchema,
  HeartbeatResponseSchema,
  JobTaskSchema,
  ManagerExt,
  ReportStatsResponseSchema,
  type TransferHost,
} from "../../gen/libellula/manager/v1/manager_ext_pb.ts";
import { anonymousActor, type Actor } from "../auth/actor.ts";
import type { Auth } from "../auth/service.ts";
import type { ManagerConfig } from "../config.ts";
import { fromDriverError, InvalidArgument, PermissionDenied, Unauthenticated } from "../errors.ts";
import type { SchedulerView, SeedPeerView, Source } from "../registry.ts";
import type { Services } from "../services.ts";
import { DEFAULT_LEASE_MS } from "../api/jobs/service.ts";

/** Dependencies of the RPC services. */
export interface RpcDeps {
  services: Services;
  auth: Auth;
  config: ManagerConfig;
}

/** Largest number of tasks one claim returns. */
const MAX_CLAIM = 100;

const CODES: Record<string, Code> = {
  InvalidArgument: Code.InvalidArgument,
  NotFound: Code.NotFound,
  AlreadyExists: Code.AlreadyExists,
  FailedPrecondition: Code.FailedPrecondition,
  PermissionDenied: Code.PermissionDenied,
  Unauthenticated: Code.Unauthenticated,
  ResourceExhausted: Code.ResourceExhausted,
};

/** Translates catalogue and driver errors into Connect codes; unknown ones become Internal without detail. */
export function toRpcError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const translated = fromDriverError(error);
  if (translated instanceof LibellulaError && CODES[translated.code] !== undefined) {
    return new ConnectError(translated.message, CODES[translated.code]);
  }
  return new ConnectError(`Internal error: ${errorMessage(error)}`, Code.Internal);
}

const translate: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    throw toRpcError(error);
  }
};

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value ?? {}));

function schedulerMessage(view: SchedulerView): Scheduler {
  const { scheduler: s, cluster: c } = view;
  return create(SchedulerSchema, {
    id: BigInt(s.id),
    hostname: s.host_name,
    idc: s.idc,
    location: s.location,
    ip: s.ip,
    port: s.port,
    state: s.state,
    schedulerClusterId: BigInt(c.id),
    schedulerCluster: create(SchedulerClusterSchema, {
      id: BigInt(c.id),
      name: c.name,
      bio: c.bio,
      config: json(c.config),
      clientConfig: json(c.client_config),
      scopes: json(c.scopes),
      seedClientConfig: json(c.seed_client_config),
    }),
    seedPeers: view.seedPeers.map((p) => seedPeerMessage(p)),
    features: json(s.features),
  });
}

function seedPeerMessage(view: SeedPeerView, schedulers: SchedulerView[] = []): SeedPeer {
  const { seedPeer: p, cluster: c } = view;
  return create(SeedPeerSchema, {
    id: BigInt(p.id),
    hostname: p.host_name,
    type: p.type,
    idc: p.idc,
    location: p.location,
    ip: p.ip,
    port: p.port,
    downloadPort: p.download_port,
    state: p.state,
    seedPeerClusterId: BigInt(c.id),
    seedPeerCluster: create(SeedPeerClusterSchema, { id: BigInt(c.id), name: c.name, bio: c.bio, config: json(c.config) }),
    schedulers: schedulers.map(schedulerMessage),
  });
}

/** A uint64 from the wire as a row id. */
function clusterId(value: bigint): number {
  if (value > 2_147_483_647n) throw new InvalidArgument(`Invalid cluster id "${value}"`);
  return Number(value);
}

function sourceOf(type: SourceType): Source {
  return type === SourceType.SEED_PEER_SOURCE ? "seed_peer" : "scheduler";
}

/** The caller: a token with the `rpc` scope, else the anonymous tenant when allowed. */
async function rpcActor(headers: Headers, auth: Auth, config: ManagerConfig): Promise<Actor> {
  const header = headers.get("authorization");
  if (header) {
    const [scheme, token] = header.trim().split(/\s+/);
    if (scheme?.toLowerCase() !== "bearer" || !token) throw new Unauthenticated("Unauthorized");
    const actor = await auth.actorFromToken(token);
    if (!actor.scopes?.includes("rpc")) throw new PermissionDenied('Token lacks scope "rpc"');
    return actor;
  }
  if (config.rpc.anonymousTenantId === null) throw new Unauthenticated("Unauthorized");
  return anonymousActor(config.rpc.anonymousTenantId);
}

/** Registers the services on a Connect router. */
export function rpcRoutes({ services, auth, config }: RpcDeps): (router: ConnectRouter) => void {
  const { registry } = services;

  const actorOf = (ctx: HandlerContext) => rpcActor(ctx.requestHeader, auth, config);

  return (router) => {
    router.service(Manager, {
      async getSeedPeer(req, ctx) {
        const actor = await actorOf(ctx);
        const found = await registry.getSeedPeer(actor, { hostname: req.hostname, ip: req.ip, clusterId: clusterId(req.seedPeerClusterId) });
        const schedulers = found.schedulers.map((s) => ({ scheduler: s.scheduler, cluster: s.cluster, seedPeers: [] }));
        return seedPeerMessage({ seedPeer: found.seedPeer, cluster: found.cluster }, schedulers);
      },
      async listSeedPeers(req, ctx) {
        const actor = await actorOf(ctx);
        const list = await registry.listSeedPeers(actor, { hostname: req.hostname, ip: req.ip });
        return create(ListSeedPeersResponseSchema, { seedPeers: list.map((p) => seedPeerMessage(p)) });
      },
      async updateSeedPeer(req, ctx) {
        const actor = await actorOf(ctx);
        const view = await registry.updateSeedPeer(actor, {
          hostname: req.hostname,
          ip: req.ip,
          type: req.type,
          idc: req.idc,
          location: req.location,
          port: req.port,
          downloadPort: req.downloadPort,
          clusterId: clusterId(req.seedPeerClusterId),
        });
        return seedPeerMessage(view);
      },
      async deleteSeedPeer(req, ctx) {
        const actor = await actorOf(ctx);
        await registry.deleteSeedPeer(actor, { hostname: req.hostname, ip: req.ip, clusterId: clusterId(req.seedPeerClusterId) });
        return create(EmptySchema);
      },
      async getScheduler(req, ctx) {
        const actor = await actorOf(ctx);
        return schedulerMessage(await registry.getScheduler(actor, { hostname: req.hostname, ip: req.ip, clusterId: clusterId(req.schedulerClusterId) }));
      },
      async updateScheduler(req, ctx) {
        const actor = await actorOf(ctx);
        const view = await registry.updateScheduler(actor, {
          hostname: req.hostname,
          ip: req.ip,
          port: req.port,
          idc: req.idc,
          location: req.location,
          clusterId: clusterId(req.schedulerClusterId),
          features: req.features,
          config: req.config,
        });
        return schedulerMessage(view);
      },
      async listSchedulers(req, ctx) {
        const actor = await actorOf(ctx);
        const views = await registry.listSchedulers(actor, {
          hostname: req.hostname,
          ip: req.ip,
          idc: req.idc,
          location: req.location,
          clusterId: clusterId(req.schedulerClusterId),
        });
        return create(ListSchedulersResponseSchema, { schedulers: views.map(schedulerMessage) });
      },
      async listApplications(_req, ctx) {
        const actor = await actorOf(ctx);
        const apps = await services.applications.all(actor);
        return create(ListApplicationsResponseSchema, {
          applications: apps.map((a) =>
            create(ApplicationSchema, {
              id: BigInt(a.id),
              name: a.name,
              url: a.url,
              bio: a.bio,
              priority: {
                value: Number(a.priority.value ?? 0),
                urls: ((a.priority.urls as { regex: string; value: number }[] | undefined) ?? []).map((u) => ({ regex: u.regex, value: u.value })),
              },
            }),
          ),
        });
      },
      async keepAlive(requests: AsyncIterable<KeepAliveRequest>, ctx) {
        const actor = await actorOf(ctx);
        let first: KeepAliveRequest | undefined;
        try {
          for await (const req of requests) {
            first ??= req;
            await registry.heartbeat(actor, sourceOf(req.sourceType), { hostname: req.hostname, ip: req.ip, clusterId: clusterId(req.clusterId) });
          }
        } finally {
          if (first) {
            await registry
              .disconnect(actor, sourceOf(first.sourceType), { hostname: first.hostname, ip: first.ip, clusterId: clusterId(first.clusterId) })
              .catch(() => {});
          }
        }
        return create(EmptySchema);
      },
    }, { interceptors: [translate] });

    router.service(ManagerExt, {
      async heartbeat(req, ctx) {
        const actor = await actorOf(ctx);
        const intervalMs = await registry.heartbeat(actor, sourceOf(req.sourceType), {
          hostname: req.hostname,
          ip: req.ip,
          clusterId: clusterId(req.clusterId),
          intervalMs: req.intervalMs || undefined,
          version: req.version || undefined,
          commit: req.commit,
        });
        return create(HeartbeatResponseSchema, { intervalMs });
      },
      async claimJobTasks(req, ctx) {
        const actor = await actorOf(ctx);
        const claimer = `${req.hostname}-${req.ip}`;
        await services.jobs.renew(actor, {
          clusterId: clusterId(req.schedulerClusterId),
          claimer,
          ids: req.renewIds.map((id) => clusterId(id)),
          leaseMs: req.leaseMs || DEFAULT_LEASE_MS,
        });
        if (req.limit === 0 && req.renewIds.length > 0) return create(ClaimJobTasksResponseSchema, { tasks: [] });
        const tasks = await services.jobs.claim(actor, {
          clusterId: clusterId(req.schedulerClusterId),
          claimer,
          types: req.types,
          limit: Math.min(Math.max(req.limit, 1), MAX_CLAIM),
          leaseMs: req.leaseMs || DEFAULT_LEASE_MS,
        });
        return create(ClaimJobTasksResponseSchema, {
          tasks: tasks.map((t) =>
            create(JobTaskSchema, {
              id: BigInt(t.id),
              jobId: BigInt(t.job_id),
              type: t.type,
              args: json(t.args),
              schedulerClusterId: BigInt(t.scheduler_cluster_id),
              attempt: t.attempts,
            }),
          ),
        });
      },
      async reportStats(req, ctx) {
        const actor = await actorOf(ctx);
        const host = (h: TransferHost) => ({ id: h.id, hostname: h.hostname, ip: h.ip, type: h.type });
        await services.stats.report(actor, {
          hostname: req.hostname,
          ip: req.ip,
          clusterId: clusterId(req.schedulerClusterId),
          backToSourceBytes: Number(req.backToSourceBytes),
          remotePeerBytes: Number(req.remotePeerBytes),
          localPeerBytes: Number(req.localPeerBytes),
          activeTasks: req.activeTasks,
          activePeers: req.activePeers,
          hosts: req.hosts,
          version: req.version,
          commit: req.commit,
          transfers: req.transfers.map((t, i) => {
            if (!t.child) throw new InvalidArgument(`Invalid "transfers[${i}].child": required`);
            return { taskId: t.taskId, child: host(t.child), parent: t.parent ? host(t.parent) : undefined, bytes: Number(t.bytes), pieces: t.pieces };
          }),
          seedPeers: req.seedPeers.map((p) => ({
            hostname: p.hostname,
            ip: p.ip,
            type: p.type,
            idc: p.idc,
            location: p.location,
            port: p.port,
            downloadPort: p.downloadPort,
            version: p.version,
            commit: p.commit,
          })),
          intervalMs: req.intervalMs,
        });
        return create(ReportStatsResponseSchema, { intervalMs: 0 });
      },
      async reportJobTask(req, ctx) {
        const actor = await actorOf(ctx);
        let result: Record<string, unknown> | null = null;
        if (req.result.length > 0) {
          try {
            result = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(req.result)) as Record<string, unknown>;
          } catch {
            throw new InvalidArgument('Invalid "result": not JSON');
          }
          if (JSON.stringify(result).includes("\\u0000")) throw new InvalidArgument('Invalid "result": contains NUL');
        }
        await services.jobs.report(actor, {
          id: clusterId(req.id),
          claimer: `${req.hostname}-${req.ip}`,
          success: req.success,
          result,
          error: req.error.replace(/\u0000/g, ""),
        });
        return create(EmptySchema);
      },
    }, { interceptors: [translate] });
  };
}

/** A fetch handler for the RPC paths (Connect and gRPC-web over HTTP/1.1). */
export function createRpcHandler(deps: RpcDeps): (request: Request) => Promise<Response> {
  const router = createConnectRouter();
  rpcRoutes(deps)(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h, { httpVersion: "1.1" })]));
  const listSchedulers = createListSchedulersFastPath(deps);
  return async (request) => {
    const path = new URL(request.url).pathname;
    if (path === LIST_SCHEDULERS_PATH && request.method === "POST") {
      const fast = await listSchedulers(request);
      if (fast) return fast;
    }
    const handler = handlers.get(path);
    if (!handler) return Response.json({ message: "Unknown procedure" }, { status: 404 });
    return await asInvalidArgument(await handler(request));
  };
}

/**
 * connect-es reports a request it cannot decode from binary as `internal`; it is the client's mistake,
 * so the Connect answer becomes `invalid_argument` (HTTP 400).
 */
async function asInvalidArgument(response: Response): Promise<Response> {
  if (response.status !== 500 || !response.headers.get("content-type")?.startsWith("application/json")) return response;
  const text = await response.text();
  try {
    const error = JSON.parse(text) as { code?: string; message?: string };
    if (error.code === "internal" && error.message?.startsWith("parse binary:")) {
      return Response.json({ code: "invalid_argument", message: error.message }, { status: 400 });
    }
  } catch {
    // not a Connect error body: pass it on unchanged
  }
  return new Response(text, { status: response.status, headers: response.headers });
}

const LIST_SCHEDULERS_PATH = "/manager.v2.Manager/ListSchedulers";
/** Connect unary content types the fast path answers. */
const UNARY_JSON = "application/json";
const UNARY_PROTO = "application/proto";

/**
 * Peers call ListSchedulers most; its answer changes only when the registry's cached views do. This
 * path answers Connect unary calls with bytes serialized once per views object, and leaves every other
 * form (gRPC-web, compression, GET) to Connect. Returns undefined when it does not apply.
 */
function createListSchedulersFastPath({ services, auth, config }: RpcDeps): (request: Request) => Promise<Response | undefined> {
  const serialized = new WeakMap<SchedulerView[], { json?: Uint8Array; proto?: Uint8Array }>();
  return async (request) => {
    const type = request.headers.get("content-type");
    if ((type !== UNARY_JSON && type !== UNARY_PROTO) || request.headers.has("content-encoding") || request.headers.has("connect-content-encoding")) return undefined;
    const json = type === UNARY_JSON;
    try {
      const bytes = new Uint8Array(await request.arrayBuffer());
      let req;
      try {
        req = json
          ? fromJsonString(ListSchedulersRequestSchema, new TextDecoder().decode(bytes), { ignoreUnknownFields: true })
          : fromBinary(ListSchedulersRequestSchema, bytes);
      } catch (error) {
        throw new InvalidArgument(`Invalid request: ${errorMessage(error)}`);
      }
      const actor = await rpcActor(request.headers, auth, config);
      const views = await services.registry.listSchedulers(actor, {
        hostname: req.hostname,
        ip: req.ip,
        idc: req.idc,
        location: req.location,
        clusterId: clusterId(req.schedulerClusterId),
      });
      let entry = serialized.get(views);
      if (!entry) serialized.set(views, (entry = {}));
      let body = json ? entry.json : entry.proto;
      if (!body) {
        const message = create(ListSchedulersResponseSchema, { schedulers: views.map(schedulerMessage) });
        body = json ? encoder.encode(toJsonString(ListSchedulersResponseSchema, message)) : toBinary(ListSchedulersResponseSchema, message);
        if (json) entry.json = body;
        else entry.proto = body;
      }
      return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: { "content-type": type } });
    } catch (error) {
      const connectError = toRpcError(error);
      return new Response(errorToJsonBytes(connectError, {}) as Uint8Array<ArrayBuffer>, {
        status: codeToHttpStatus(connectError.code),
        headers: { "content-type": UNARY_JSON },
      });
    }
  };
}
