/**
 * The dashboard: what is alive per cluster, recent jobs, and traffic by type with the P2P hit ratio. Everything
 * comes from the manager; a figure the manager cannot give yet says so instead of being made up.
 */
import { useMemo } from "preact/hooks";
import { all, count, get, list } from "../api.ts";
import { GroupedBars, TimeChart } from "../components/charts.tsx";
import { Badge, Card, Empty, ErrorState, Link, Loading, Page, Time } from "../components/ui.tsx";
import { useAsync, useInterval } from "../hooks.ts";
import { can, me } from "../me.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster, Job } from "../types.ts";
import { formatBytes } from "./job-detail.tsx";
import { jobLabel, jobTarget } from "./jobs.tsx";

/** One step of traffic, as GET /api/v1/traffic returns it. */
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
  totals: { back_to_source_bytes: number; peer_bytes: number; local_bytes: number };
  hit_ratio: number | null;
}

/** A task with recent transfers, as GET /api/v1/traffic/tasks returns it. */
export interface RecentTask {
  task_id: string;
  scheduler_cluster_id: number;
  hosts: number;
  bytes: number;
  back_to_source_bytes: number;
  last_transfer_at: string;
}

/** One cluster's live counts, as GET /api/v1/cluster-stats returns them. */
export interface ClusterStats {
  scheduler_cluster_id: number;
  name: string;
  schedulers: number;
  seed_peers: number;
  active_tasks: number;
  active_peers: number;
  hosts: number;
  reported_at: string | null;
}

const RANGES: Record<string, { label: string; seconds: number; step: number }> = {
  "1h": { label: "Last hour", seconds: 3600, step: 60 },
  "24h": { label: "Last 24 hours", seconds: 86400, step: 900 },
  "7d": { label: "Last 7 days", seconds: 7 * 86400, step: 3 * 3600 },
};

const COLORS = { source: "#d9534f", peer: "#1f8a70", local: "#3d7bd9", schedulers: "#0b6e6e", seeds: "#c98a12", peers: "#3d7bd9", tasks: "#8a4fd9" };

/** Everything but the traffic; live counts need the permission to read peers. */
async function overview(readsPeers: boolean) {
  const [clusters, stats, jobs, running] = await Promise.all([
    all<Cluster>("/api/v1/clusters", {}, 100),
    readsPeers ? get<ClusterStats[]>("/api/v1/cluster-stats") : Promise.resolve(null),
    list<Job>("/api/v1/jobs", { per_page: 5 }),
    count("/api/v1/jobs", { state: "PENDING" }),
  ]);
  return { clusters, stats, jobs: jobs.items, running };
}

/** The dashboard page. */
export function DashboardPage() {
  const who = useSignal(me);
  const location = useSignal(current);
  const range = RANGES[location.query.get("range") ?? "24h"] ? (location.query.get("range") ?? "24h") : "24h";
  const clusterId = /^\d+$/.test(location.query.get("cluster") ?? "") ? location.query.get("cluster")! : "";
  const readsPeers = can(who, "peers", "read");
  const data = useAsync(() => overview(readsPeers), [readsPeers]);
  useInterval(data.reload, 10_000, true);

  if (data.error && !data.data) return <Page title="Dashboard"><ErrorState error={data.error} retry={data.reload} /></Page>;
  if (!data.data) return <Page title="Dashboard"><Loading /></Page>;
  const { clusters, stats, jobs, running } = data.data;
  const totals = (stats ?? []).reduce(
    (t, s) => ({ schedulers: t.schedulers + s.schedulers, seeds: t.seeds + s.seed_peers, peers: t.peers + s.active_peers, tasks: t.tasks + s.active_tasks }),
    { schedulers: 0, seeds: 0, peers: 0, tasks: 0 },
  );
  const needsSetup = clusters.length === 0 || totals.schedulers === 0;

  return (
    <Page title="Dashboard" subtitle={who ? `Signed in as ${who.user.name}` : undefined}>
      {needsSetup && <GettingStarted hasCluster={clusters.length > 0} firstCluster={clusters[0]} canWrite={can(who, "clusters", "*")} />}
      <ul class="tiles" aria-label="Totals">
        <Tile label="Clusters" value={clusters.length} href="/clusters" />
        <Tile label="Active schedulers" value={totals.schedulers} href="/clusters" />
        <Tile label="Active seed peers" value={totals.seeds} href="/clusters" />
        <Tile label="Active peers" value={totals.peers} href="/peers" hint="known to the schedulers now" />
        <Tile label="Active tasks" value={totals.tasks} href="/tasks" />
        <Tile label="Running jobs" value={running} href="/jobs?state=PENDING" />
      </ul>

      {readsPeers ? (
        <TrafficCard range={range} clusters={clusters} clusterId={clusterId} />
      ) : (
        <Card title="Traffic by type">
          <Empty title="Traffic needs the permission to read peers" />
        </Card>
      )}

      <div class="grid-2">
        <Card title="Per cluster">
          {stats === null ? (
            <Empty title="Live counts need the permission to read peers" />
          ) : stats.length === 0 ? (
            <Empty title="No clusters yet" />
          ) : (
            <>
              <GroupedBars
                label={`Active schedulers, seed peers, peers and tasks for ${stats.length} clusters`}
                groups={stats.map((s) => ({
                  label: s.name,
                  values: { schedulers: s.schedulers, seeds: s.seed_peers, peers: s.active_peers, tasks: s.active_tasks },
                }))}
                keys={[
                  { key: "schedulers", label: "Schedulers", color: COLORS.schedulers },
                  { key: "seeds", label: "Seed peers", color: COLORS.seeds },
                  { key: "peers", label: "Peers", color: COLORS.peers },
                  { key: "tasks", label: "Active tasks", color: COLORS.tasks },
                ]}
              />
              <p class="hint">Schedulers and seed peers heartbeating now; peers and tasks from the live schedulers' last reports.</p>
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
      {readsPeers && <RecentTasksCard clusters={clusters} />}
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
          <strong>Start a seed peer and peers</strong> that find the scheduler through this manager:
          <pre>
            <code>
              bin/dfdaemon --manager.addr {location.hostname}:65003 --seedPeer.enable true{"\n"}bin/dfdaemon --manager.addr {location.hostname}:65003
            </code>
          </pre>
        </li>
        <li>
          <strong>Preheat</strong> a file or an image: <Link href="/jobs/preheat">new preheat</Link>.
        </li>
      </ol>
    </Card>
  );
}

function TrafficCard(props: { range: string; clusters: Cluster[]; clusterId: string }) {
  const range = RANGES[props.range]!;
  const traffic = useAsync(() => {
    const to = Date.now();
    return get<Traffic>("/api/v1/traffic", {
      from: new Date(to - range.seconds * 1000).toISOString(),
      to: new Date(to).toISOString(),
      step: range.step,
      ...(props.clusterId ? { scheduler_cluster_id: props.clusterId } : {}),
    });
  }, [props.range, props.clusterId]);
  useInterval(traffic.reload, 15_000, true);
  const chart = useMemo(() => {
    const points = traffic.data?.series ?? [];
    return {
      times: points.map((p) => Date.parse(p.time) / 1000),
      series: [
        { label: "Back to source", color: COLORS.source, values: points.map((p) => p.back_to_source_bytes) },
        { label: "From peers", color: COLORS.peer, values: points.map((p) => p.peer_bytes) },
        { label: "Local cache", color: COLORS.local, values: points.map((p) => p.local_bytes) },
      ],
    };
  }, [traffic.data]);
  const totals = traffic.data?.totals ?? { back_to_source_bytes: 0, peer_bytes: 0, local_bytes: 0 };
  const all = totals.back_to_source_bytes + totals.peer_bytes + totals.local_bytes;
  const ratio = traffic.data?.hit_ratio ?? null;

  return (
    <Card
      title="Traffic by type"
      actions={
        <div class="inline">
          <label class="inline">
            <span class="visually-hidden">Cluster</span>
            <select value={props.clusterId} onChange={(e) => setQuery({ cluster: e.currentTarget.value || undefined })}>
              <option value="">All clusters</option>
              {props.clusters.map((c) => (
                <option key={c.id} value={String(c.scheduler_cluster_id)}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
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
        </div>
      }
    >
      {traffic.error && !traffic.data ? (
        <ErrorState error={traffic.error} retry={traffic.reload} />
      ) : !traffic.data ? (
        <Loading />
      ) : all === 0 ? (
        <Empty title="No downloads in this period">
          <p>
            Schedulers registered with this manager report the bytes their peers fetch from the origin, from other peers and from local caches. Download something
            through a peer (for example with <code>dfget</code>) and it shows here within a minute.
          </p>
        </Empty>
      ) : (
        <div class="traffic">
          <div class="ratio" aria-label="P2P hit ratio">
            <span class="tile-value" data-testid="hit-ratio">
              {ratio === null ? "—" : `${(ratio * 100).toFixed(1)}%`}
            </span>
            <span class="tile-label">P2P hit ratio</span>
            <span class="tile-hint">
              {formatBytes(totals.peer_bytes + totals.local_bytes)} of {formatBytes(all)} served without the origin
            </span>
            <dl class="traffic-totals">
              <dt>Back to source</dt>
              <dd data-testid="traffic-source">{formatBytes(totals.back_to_source_bytes)}</dd>
              <dt>From peers</dt>
              <dd data-testid="traffic-peer">{formatBytes(totals.peer_bytes)}</dd>
              <dt>Local cache</dt>
              <dd data-testid="traffic-local">{formatBytes(totals.local_bytes)}</dd>
            </dl>
          </div>
          <TimeChart label={`Bytes by type, ${range.label.toLowerCase()}`} times={chart.times} series={chart.series} format={(v) => formatBytes(v)} />
        </div>
      )}
    </Card>
  );
}

function RecentTasksCard(props: { clusters: Cluster[] }) {
  const tasks = useAsync(() => get<RecentTask[]>("/api/v1/traffic/tasks", { limit: 8 }), []);
  useInterval(tasks.reload, 15_000, true);
  const clusterName = (id: number) => props.clusters.find((c) => c.scheduler_cluster_id === id)?.name ?? `#${id}`;
  return (
    <Card
      title="Recent tasks"
      actions={
        <Link href="/tasks#graph" class="button button-link">
          Peer graph by task ID
        </Link>
      }
    >
      {tasks.error && !tasks.data ? (
        <ErrorState error={tasks.error} retry={tasks.reload} />
      ) : !tasks.data ? (
        <Loading />
      ) : tasks.data.length === 0 ? (
        <Empty title="No transfers yet">
          <p>Tasks whose pieces moved in the last seven days appear here; open one to see who got its pieces from whom.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table aria-label="Recent tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Cluster</th>
                <th scope="col">Hosts</th>
                <th scope="col">Received</th>
                <th scope="col">From the origin</th>
                <th scope="col">Last transfer</th>
              </tr>
            </thead>
            <tbody>
              {tasks.data.map((t) => (
                <tr key={`${t.scheduler_cluster_id}-${t.task_id}`} data-testid="recent-task">
                  <td>
                    <Link href={`/tasks?graph=${t.task_id}&graph_cluster=${t.scheduler_cluster_id}#graph`} aria-label={`Peer graph of task ${t.task_id}`}>
                      <code>{t.task_id.slice(0, 12)}…</code>
                    </Link>
                  </td>
                  <td>{clusterName(t.scheduler_cluster_id)}</td>
                  <td>{t.hosts}</td>
                  <td>{formatBytes(t.bytes)}</td>
                  <td>{formatBytes(t.back_to_source_bytes)}</td>
                  <td>
                    <Time value={t.last_transfer_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
