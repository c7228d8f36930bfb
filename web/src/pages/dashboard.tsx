/**
 * The dashboard: what is alive per cluster, recent jobs, and traffic by type with the P2P hit ratio. Everything
 * comes from the manager; a figure the manager cannot give yet says so instead of being made up.
 */
import { useMemo } from "preact/hooks";
import { ApiError, all, count, get, list } from "../api.ts";
import { GroupedBars, TimeChart } from "../components/charts.tsx";
import { Badge, Card, Empty, ErrorState, Link, Loading, Page, Time } from "../components/ui.tsx";
import { useAsync, useInterval } from "../hooks.ts";
import { can, me } from "../me.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster, Job } from "../types.ts";
import { formatBytes } from "./job-detail.tsx";
import { jobLabel, jobTarget } from "./jobs.tsx";

/** One bucket of traffic, as GET /api/v1/traffic returns it. */
export interface TrafficPoint {
  time: string;
  back_to_source_bytes: number;
  peer_bytes: number;
  local_bytes: number;
}

/** GET /api/v1/traffic. */
export interface Traffic {
  step_seconds: number;
  series: TrafficPoint[];
}

/** One cluster's live counts, as GET /api/v1/cluster-stats returns them. */
export interface ClusterStats {
  scheduler_cluster_id: number;
  active_tasks: number;
  active_peers: number;
}

const RANGES: Record<string, { label: string; seconds: number; step: number }> = {
  "1h": { label: "Last hour", seconds: 3600, step: 60 },
  "24h": { label: "Last 24 hours", seconds: 86400, step: 900 },
  "7d": { label: "Last 7 days", seconds: 7 * 86400, step: 3 * 3600 },
};

const COLORS = { source: "#d9534f", peer: "#1f8a70", local: "#3d7bd9", schedulers: "#0b6e6e", seeds: "#c98a12", peers: "#3d7bd9", tasks: "#8a4fd9" };

/** The answer was "no such route": the manager lacks the endpoint. */
function missing(error: Error | undefined): boolean {
  return error instanceof ApiError && error.status === 404 && error.message.startsWith("Not found:");
}

interface ClusterRow {
  cluster: Cluster;
  schedulers: number;
  seedPeers: number;
  peers: number;
}

async function overview() {
  const clusters = await all<Cluster>("/api/v1/clusters", {}, 100);
  const rows: ClusterRow[] = await Promise.all(
    clusters.map(async (cluster) => ({
      cluster,
      schedulers: await count("/api/v1/schedulers", { scheduler_cluster_id: cluster.scheduler_cluster_id, state: "active" }),
      seedPeers: cluster.seed_peer_cluster_id ? await count("/api/v1/seed-peers", { seed_peer_cluster_id: cluster.seed_peer_cluster_id, state: "active" }) : 0,
      peers: await count("/api/v1/peers", { scheduler_cluster_id: cluster.scheduler_cluster_id, state: "active" }).catch(() => 0),
    })),
  );
  const [jobs, running] = await Promise.all([list<Job>("/api/v1/jobs", { per_page: 5 }), count("/api/v1/jobs", { state: "PENDING" })]);
  return { rows, jobs: jobs.items, running };
}

/** The dashboard page. */
export function DashboardPage() {
  const who = useSignal(me);
  const location = useSignal(current);
  const range = RANGES[location.query.get("range") ?? "24h"] ? (location.query.get("range") ?? "24h") : "24h";
  const data = useAsync(overview, []);
  useInterval(data.reload, 10_000, true);
  const stats = useAsync(() => get<ClusterStats[]>("/api/v1/cluster-stats"), []);

  if (data.error && !data.data) return <Page title="Dashboard"><ErrorState error={data.error} retry={data.reload} /></Page>;
  if (!data.data) return <Page title="Dashboard"><Loading /></Page>;
  const { rows, jobs, running } = data.data;
  const totals = rows.reduce((t, r) => ({ schedulers: t.schedulers + r.schedulers, seeds: t.seeds + r.seedPeers, peers: t.peers + r.peers }), { schedulers: 0, seeds: 0, peers: 0 });
  const statsBy = new Map((stats.data ?? []).map((s) => [s.scheduler_cluster_id, s]));
  const needsSetup = rows.length === 0 || totals.schedulers === 0;

  return (
    <Page title="Dashboard" subtitle={who ? `Signed in as ${who.user.name}` : undefined}>
      {needsSetup && <GettingStarted hasCluster={rows.length > 0} firstCluster={rows[0]?.cluster} canWrite={can(who, "clusters", "*")} />}
      <ul class="tiles" aria-label="Totals">
        <Tile label="Clusters" value={rows.length} href="/clusters" />
        <Tile label="Active schedulers" value={totals.schedulers} href="/clusters" />
        <Tile label="Active seed peers" value={totals.seeds} href="/clusters" />
        <Tile label="Active peers" value={totals.peers} href="/peers" hint="from the last peer sync" />
        <Tile label="Running jobs" value={running} href="/jobs?state=PENDING" />
      </ul>

      <TrafficCard range={range} />

      <div class="grid-2">
        <Card title="Per cluster">
          {rows.length === 0 ? (
            <Empty title="No clusters yet" />
          ) : (
            <>
              <GroupedBars
                label={`Active schedulers, seed peers, peers and tasks for ${rows.length} clusters`}
                groups={rows.map((r) => ({
                  label: r.cluster.name,
                  values: {
                    schedulers: r.schedulers,
                    seeds: r.seedPeers,
                    peers: statsBy.get(r.cluster.scheduler_cluster_id)?.active_peers ?? r.peers,
                    tasks: statsBy.get(r.cluster.scheduler_cluster_id)?.active_tasks ?? null,
                  },
                }))}
                keys={[
                  { key: "schedulers", label: "Schedulers", color: COLORS.schedulers },
                  { key: "seeds", label: "Seed peers", color: COLORS.seeds },
                  { key: "peers", label: "Peers", color: COLORS.peers },
                  { key: "tasks", label: "Active tasks", color: COLORS.tasks },
                ]}
              />
              {missing(stats.error) && (
                <p class="hint">
                  Active tasks need <code>GET /api/v1/cluster-stats</code>, which this manager does not serve yet; peers are counted from the peer inventory.
                </p>
              )}
              {stats.error && !missing(stats.error) && <p class="warn small">Live cluster statistics failed: {stats.error.message}</p>}
            </>
          )}
        </Card>
        <Card
          title="Recent jobs"
          actions={
            <Link href="/jobs" class="button button-link">
              All jobs
            </Link>
          }
        >
          {jobs.length === 0 ? (
            <Empty
              title="No jobs yet"
              action={
                <Link href="/jobs/preheat" class="button">
                  Preheat something
                </Link>
              }
            />
          ) : (
            <ul class="job-list">
              {jobs.map((j) => (
                <li key={j.id}>
                  <Link href={`/jobs/${j.id}`}>
                    #{j.id} {jobLabel(j)}
                  </Link>{" "}
                  <Badge value={j.state} />
                  <div class="muted small truncate">{jobTarget(j)}</div>
                  <div class="muted small">
                    <Time value={j.created_at} />
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      <Card title="Task peer graph">
        <p>
          See who got pieces from whom for one task: <Link href="/tasks#graph">open the peer graph</Link>.
        </p>
      </Card>
    </Page>
  );
}

function Tile(props: { label: string; value: number | string; href: string; hint?: string }) {
  return (
    <li class="tile">
      <Link href={props.href}>
        <span class="tile-value">{props.value}</span>
        <span class="tile-label">{props.label}</span>
        {props.hint && <span class="tile-hint">{props.hint}</span>}
      </Link>
    </li>
  );
}

function GettingStarted(props: { hasCluster: boolean; firstCluster?: Cluster; canWrite: boolean }) {
  const id = props.firstCluster?.scheduler_cluster_id ?? "<cluster ID>";
  return (
    <Card title="Getting started" class="getting-started">
      <ol class="steps">
        <li class={props.hasCluster ? "done" : ""}>
          <strong>Create a cluster.</strong>{" "}
          {props.hasCluster ? (
            <span>Done: {props.firstCluster?.name}.</span>
          ) : props.canWrite ? (
            <Link href="/clusters/new">Create one now</Link>
          ) : (
            <span>Ask an administrator to create one.</span>
          )}
        </li>
        <li>
          <strong>Start a scheduler</strong> that registers with this manager:
          <pre>
            <code>bin/scheduler --manager.addr {location.hostname}:65003 --manager.schedulerClusterID {id}</code>
          </pre>
        </li>
        <li>
          <strong>Start seed peers and peers</strong> pointed at the scheduler: <code>bin/dfdaemon --seed …</code> and <code>bin/dfdaemon …</code>
        </li>
        <li>
          <strong>Preheat</strong> a file or an image: <Link href="/jobs/preheat">new preheat</Link>.
        </li>
      </ol>
    </Card>
  );
}

function TrafficCard(props: { range: string }) {
  const range = RANGES[props.range]!;
  const traffic = useAsync(
    () => get<Traffic>("/api/v1/traffic", { since: new Date(Date.now() - range.seconds * 1000).toISOString(), step: range.step }),
    [props.range],
  );
  const chart = useMemo(() => {
    const points = traffic.data?.series ?? [];
    return {
      times: points.map((p) => Date.parse(p.time) / 1000),
      series: [
        { label: "Back to source", color: COLORS.source, values: points.map((p) => p.back_to_source_bytes) },
        { label: "From peers", color: COLORS.peer, values: points.map((p) => p.peer_bytes) },
        { label: "Local cache", color: COLORS.local, values: points.map((p) => p.local_bytes) },
      ],
      total: points.reduce((t, p) => ({ source: t.source + p.back_to_source_bytes, peer: t.peer + p.peer_bytes, local: t.local + p.local_bytes }), { source: 0, peer: 0, local: 0 }),
    };
  }, [traffic.data]);
  const all = chart.total.source + chart.total.peer + chart.total.local;
  const ratio = all > 0 ? (chart.total.peer + chart.total.local) / all : null;

  return (
    <Card
      title="Traffic by type"
      actions={
        <label class="inline">
          <span class="visually-hidden">Time range</span>
          <select value={props.range} onChange={(e) => setQuery({ range: e.currentTarget.value === "24h" ? undefined : e.currentTarget.value })}>
            {Object.entries(RANGES).map(([key, r]) => (
              <option key={key} value={key}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      }
    >
      {missing(traffic.error) ? (
        <Empty title="This manager does not report traffic yet">
          <p>
            The chart and the P2P hit ratio need <code>GET /api/v1/traffic</code> (bytes back-to-source, from peers and from local caches, per time bucket), aggregated from the schedulers'
            download reports.
          </p>
        </Empty>
      ) : traffic.error ? (
        <ErrorState error={traffic.error} retry={traffic.reload} />
      ) : !traffic.data ? (
        <Loading />
      ) : traffic.data.series.length === 0 || all === 0 ? (
        <Empty title="No downloads in this period" />
      ) : (
        <div class="traffic">
          <div class="ratio" aria-label="P2P hit ratio">
            <span class="tile-value">{ratio === null ? "—" : `${(ratio * 100).toFixed(1)}%`}</span>
            <span class="tile-label">P2P hit ratio</span>
            <span class="tile-hint">
              {formatBytes(chart.total.peer + chart.total.local)} of {formatBytes(all)} served without the origin
            </span>
          </div>
          <TimeChart label={`Bytes by type, ${range.label.toLowerCase()}`} times={chart.times} series={chart.series} format={(v) => formatBytes(v)} />
        </div>
      )}
    </Card>
  );
}
