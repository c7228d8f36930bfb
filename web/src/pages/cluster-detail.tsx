/** One cluster: its settings, schedulers and seed peers (state, version, last heartbeat) and its peers. */
import { call, get, list } from "../api.ts";
import { Badge, Card, ConfirmButton, Empty, ErrorState, JsonDetails, Link, Loading, Page, Time, toast } from "../components/ui.tsx";
import { Tabs } from "../components/tabs.tsx";
import { useAsync, useInterval } from "../hooks.ts";
import { can, me } from "../me.ts";
import { current, navigate, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster, Job, Scheduler, SeedPeer } from "../types.ts";
import { scopeSummary } from "./clusters.tsx";
import { PeersTable } from "./peers.tsx";

/** How often instance states are re-read. */
const REFRESH_MS = 5000;

/** The cluster page. */
export function ClusterDetailPage(props: { id: number }) {
  const location = useSignal(current);
  const who = useSignal(me);
  const tab = location.query.get("tab") ?? "overview";
  const cluster = useAsync(() => get<Cluster>(`/api/v1/clusters/${props.id}`), [props.id]);
  if (cluster.error) return <Page title="Cluster" back={{ href: "/clusters", label: "Clusters" }}><ErrorState error={cluster.error} retry={cluster.reload} /></Page>;
  if (!cluster.data) return <Page title="Cluster" back={{ href: "/clusters", label: "Clusters" }}><Loading /></Page>;
  const c = cluster.data;
  const writable = can(who, "clusters", "*");
  return (
    <Page
      title={c.name}
      subtitle={
        <>
          Cluster {c.scheduler_cluster_id} {c.is_default && <Badge value="default" />} · {scopeSummary(c)}
        </>
      }
      back={{ href: "/clusters", label: "Clusters" }}
      actions={
        writable && (
          <>
            <Link href={`/clusters/${c.id}/edit`} class="button">
              Edit
            </Link>
            <ConfirmButton
              label="Delete"
              title={`Delete cluster "${c.name}"?`}
              message={<p>The manager refuses while schedulers or seed peers still belong to it.</p>}
              onConfirm={async () => {
                await call("DELETE", `/api/v1/clusters/${c.id}`);
                toast(`Deleted cluster "${c.name}"`);
                navigate("/clusters");
              }}
            />
          </>
        )
      }
    >
      <Tabs
        label="Cluster sections"
        selected={tab}
        onSelect={(id) => setQuery({ tab: id === "overview" ? undefined : id, page: undefined })}
        tabs={[
          { id: "overview", label: "Overview" },
          { id: "schedulers", label: "Schedulers" },
          { id: "seed-peers", label: "Seed peers" },
          { id: "peers", label: "Peers" },
        ]}
      >
        {tab === "schedulers" ? (
          <SchedulersPanel cluster={c} writable={writable} />
        ) : tab === "seed-peers" ? (
          <SeedPeersPanel cluster={c} writable={writable} />
        ) : tab === "peers" ? (
          <PeersPanel cluster={c} />
        ) : (
          <Overview cluster={c} />
        )}
      </Tabs>
    </Page>
  );
}

function Overview(props: { cluster: Cluster }) {
  const c = props.cluster;
  const rows: [string, unknown][] = [
    ["Candidate parent limit", c.scheduler_cluster_config.candidate_parent_limit],
    ["Filter parent limit", c.scheduler_cluster_config.filter_parent_limit],
    ["Job rate limit (per second)", c.scheduler_cluster_config.job_rate_limit],
    ["Peer load limit", c.peer_cluster_config.load_limit],
    ["Seed peer load limit", c.seed_peer_cluster_config.load_limit],
  ];
  return (
    <div class="grid-2">
      <Card title="Settings">
        <dl class="facts">
          {rows.map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value === undefined ? <span class="muted">default</span> : String(value)}</dd>
            </div>
          ))}
        </dl>
      </Card>
      <Card title="Scopes and identity">
        <dl class="facts">
          <div>
            <dt>Scheduler cluster ID</dt>
            <dd>
              <code>{c.scheduler_cluster_id}</code>
            </dd>
          </div>
          <div>
            <dt>Seed peer cluster ID</dt>
            <dd>
              <code>{c.seed_peer_cluster_id ?? "none"}</code>
            </dd>
          </div>
          <div>
            <dt>IDC</dt>
            <dd>{c.scopes?.idc || <span class="muted">any</span>}</dd>
          </div>
          <div>
            <dt>Location</dt>
            <dd>{c.scopes?.location || <span class="muted">any</span>}</dd>
          </div>
          <div>
            <dt>CIDRs</dt>
            <dd>{c.scopes?.cidrs?.length ? c.scopes.cidrs.join(", ") : <span class="muted">any</span>}</dd>
          </div>
          <div>
            <dt>Hostnames</dt>
            <dd>{c.scopes?.hostnames?.length ? c.scopes.hostnames.join(", ") : <span class="muted">any</span>}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <Time value={c.created_at} />
            </dd>
          </div>
        </dl>
        <p class="hint">
          Start a scheduler for this cluster with <code>bin/scheduler --manager.addr &lt;manager&gt;:65003 --manager.schedulerClusterID {c.scheduler_cluster_id}</code>.
        </p>
      </Card>
      <JsonDetails summary="Full configuration (JSON)" value={{ scheduler_cluster_config: c.scheduler_cluster_config, peer_cluster_config: c.peer_cluster_config, seed_peer_cluster_config: c.seed_peer_cluster_config, scopes: c.scopes }} />
    </div>
  );
}

/** "every 5 s, 2 missed" style liveness hint from the keep-alive interval. */
function heartbeatLate(last: string | null | undefined, intervalMs: number | undefined): boolean {
  if (!last || !intervalMs) return false;
  return Date.now() - Date.parse(last) > 3 * intervalMs;
}

/** A release with its short commit, or a muted note when none was reported. */
function Version(props: { version: string | undefined; commit: string | undefined }) {
  if (!props.version) return <span class="muted">not reported</span>;
  return (
    <span>
      {props.version}
      {props.commit && <span class="muted small"> ({props.commit.slice(0, 8)})</span>}
    </span>
  );
}

function SchedulersPanel(props: { cluster: Cluster; writable: boolean }) {
  const data = useAsync(() => list<Scheduler>("/api/v1/schedulers", { scheduler_cluster_id: props.cluster.scheduler_cluster_id, per_page: 100 }), [props.cluster.id]);
  useInterval(data.reload, REFRESH_MS, true);
  if (data.error) return <ErrorState error={data.error} retry={data.reload} />;
  if (!data.data) return <Loading />;
  if (data.data.items.length === 0)
    return (
      <Empty title="No scheduler has registered with this cluster">
        <p>
          Start one with <code>--manager.schedulerClusterID {props.cluster.scheduler_cluster_id}</code>; it appears here within seconds of its first heartbeat.
        </p>
      </Empty>
    );
  return (
    <div class="table-wrap">
      <table aria-label="Schedulers">
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Address</th>
            <th scope="col">State</th>
            <th scope="col">Version</th>
            <th scope="col">Last heartbeat</th>
            <th scope="col">Features</th>
            <th scope="col">IDC / location</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {data.data.items.map((s) => (
            <tr key={s.id} data-testid="scheduler-row">
              <td>{s.host_name}</td>
              <td>
                <code>
                  {s.ip}:{s.port}
                </code>
              </td>
              <td>
                <Badge value={s.state} />
                {s.state === "active" && heartbeatLate(s.last_keep_alive_at, s.keep_alive_interval_ms) && <span class="warn small"> heartbeats late</span>}
              </td>
              <td>
                <Version version={s.git_version} commit={s.git_commit} />
              </td>
              <td>
                <Time value={s.last_keep_alive_at} />
              </td>
              <td>{s.features.join(", ") || <span class="muted">none</span>}</td>
              <td class="small">{[s.idc, s.location].filter(Boolean).join(" · ") || <span class="muted">—</span>}</td>
              <td class="row-actions">
                {props.writable && s.state !== "active" && (
                  <ConfirmButton
                    label="Remove"
                    ariaLabel={`Remove scheduler ${s.host_name}`}
                    title={`Remove scheduler "${s.host_name}"?`}
                    message={<p>It is inactive. If it comes back it registers again.</p>}
                    onConfirm={async () => {
                      await call("DELETE", `/api/v1/schedulers/${s.id}`);
                      toast(`Removed scheduler "${s.host_name}"`);
                      data.reload();
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function SeedPeersPanel(props: { cluster: Cluster; writable: boolean }) {
  const id = props.cluster.seed_peer_cluster_id;
  const data = useAsync(() => (id ? list<SeedPeer>("/api/v1/seed-peers", { seed_peer_cluster_id: id, per_page: 100 }) : Promise.resolve(null)), [id]);
  useInterval(data.reload, REFRESH_MS, Boolean(id));
  if (!id) return <Empty title="This cluster has no seed peer cluster" />;
  if (data.error) return <ErrorState error={data.error} retry={data.reload} />;
  if (!data.data) return <Loading />;
  if (data.data.items.length === 0)
    return (
      <Empty title="No seed peer has registered">
        <p>
          Start a dfdaemon with <code>--seedPeer.enable true</code> pointed at this cluster's scheduler; the scheduler reports it here within seconds. Preheats need at
          least one seed peer.
        </p>
      </Empty>
    );
  return (
    <div class="table-wrap">
      <table aria-label="Seed peers">
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Address</th>
            <th scope="col">Type</th>
            <th scope="col">State</th>
            <th scope="col">Version</th>
            <th scope="col">Last heartbeat</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {data.data.items.map((s) => (
            <tr key={s.id}>
              <td>{s.host_name}</td>
              <td>
                <code>
                  {s.ip}:{s.port}
                </code>{" "}
                <span class="muted small">download {s.download_port}</span>
              </td>
              <td>{s.type}</td>
              <td>
                <Badge value={s.state} />
                {s.state === "active" && heartbeatLate(s.last_keep_alive_at, s.keep_alive_interval_ms) && <span class="warn small"> heartbeats late</span>}
              </td>
              <td>
                <Version version={s.git_version} commit={s.git_commit} />
              </td>
              <td>
                <Time value={s.last_keep_alive_at ?? s.updated_at} />
              </td>
              <td class="row-actions">
                {props.writable && s.state !== "active" && (
                  <ConfirmButton
                    label="Remove"
                    ariaLabel={`Remove seed peer ${s.host_name}`}
                    title={`Remove seed peer "${s.host_name}"?`}
                    message={<p>It is inactive. If it comes back it registers again.</p>}
                    onConfirm={async () => {
                      await call("DELETE", `/api/v1/seed-peers/${s.id}`);
                      data.reload();
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PeersPanel(props: { cluster: Cluster }) {
  const who = useSignal(me);
  return (
    <>
      <div class="toolbar">
        <p class="hint">Peers are what the cluster's scheduler reported at the last peer sync.</p>
        {can(who, "jobs", "*") && (
          <button
            type="button"
            class="button"
            onClick={async () => {
              try {
                const job = await call<Job>("POST", "/api/v1/jobs", { body: { type: "sync_peers", scheduler_cluster_ids: [props.cluster.scheduler_cluster_id] } });
                toast(`Peer sync started (job ${job.id})`);
                navigate(`/jobs/${job.id}`);
              } catch (e) {
                toast(e instanceof Error ? e.message : String(e), "bad");
              }
            }}
          >
            Sync peers now
          </button>
        )}
      </div>
      <PeersTable clusterId={props.cluster.scheduler_cluster_id} />
    </>
  );
}
