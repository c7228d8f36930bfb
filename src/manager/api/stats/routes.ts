/** REST routes of the dashboard's data: GET /traffic, /traffic/tasks, /cluster-stats and /tasks/{task_id}/graph. */
import { z } from "@hono/zod-openapi";
import { defineRoute, type ApiApp, type RouteDeps } from "../route.ts";
import type { StatsService } from "./service.ts";
import { ClusterStats, RecentTask, RecentTasksQuery, TaskGraph, TaskGraphQuery, TaskParams, Traffic, TrafficQuery } from "./types.ts";

/** Registers the routes; reading them takes the same permission as reading peers. */
export function statsRoutes(app: ApiApp, deps: RouteDeps, service: StatsService): void {
  const auth = { group: "peers" };
  const tag = "Statistics";
  defineRoute(app, deps, { method: "get", path: "/api/v1/traffic", tag, summary: "Traffic by type over time, with the P2P hit ratio", auth, query: TrafficQuery, response: Traffic },
    ({ actor, query }) => service.traffic(actor!, query));
  defineRoute(app, deps, { method: "get", path: "/api/v1/traffic/tasks", tag, summary: "Tasks with the latest piece transfers", auth, query: RecentTasksQuery, response: z.array(RecentTask) },
    ({ actor, query }) => service.recentTasks(actor!, query));
  defineRoute(app, deps, { method: "get", path: "/api/v1/cluster-stats", tag, summary: "Live schedulers, seed peers, tasks and peers per scheduler cluster", auth, response: z.array(ClusterStats) },
    ({ actor }) => service.clusterStats(actor!));
  defineRoute(app, deps, { method: "get", path: "/api/v1/tasks/{task_id}/graph", tag, summary: "Who got a task's pieces from whom", auth, params: TaskParams, query: TaskGraphQuery, response: TaskGraph },
    ({ actor, params, query }) => service.taskGraph(actor!, params.task_id, query.scheduler_cluster_id));
}
