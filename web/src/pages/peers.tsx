/** Peers: every host the schedulers reported, filtered by cluster, host, IP and state, page by page. */
import { useState } from "preact/hooks";
import { all, list } from "../api.ts";
import { Badge, Empty, ErrorState, Loading, Page, Pagination, Time } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster, Peer } from "../types.ts";

const PER_PAGE = 20;

/** The peers page with a cluster filter. */
export function PeersPage() {
  return (
    <Page title="Peers" subtitle="Hosts running dfdaemon, as their schedulers last reported them. Run a peer sync from a cluster to refresh.">
      <PeersTable />
    </Page>
  );
}

/** Filters and the table; `clusterId` pins the cluster. */
export function PeersTable(props: { clusterId?: number }) {
  const location = useSignal(current);
  const q = location.query;
  const page = Number(q.get("page") ?? 1) || 1;
  const filters = {
    host_name: q.get("host_name") ?? "",
    ip: q.get("ip") ?? "",
    state: q.get("state") ?? "",
    scheduler_cluster_id: props.clusterId ? String(props.clusterId) : (q.get("cluster") ?? ""),
  };
  const [draft, setDraft] = useState(filters);
  const clusters = useAsync(() => (props.clusterId ? Promise.resolve([] as Cluster[]) : all<Cluster>("/api/v1/clusters")), [props.clusterId]);
  const data = useAsync(() => list<Peer>("/api/v1/peers", { ...filters, page, per_page: PER_PAGE }), [page, filters.host_name, filters.ip, filters.state, filters.scheduler_cluster_id]);
  const filtered = Boolean(filters.host_name || filters.ip || filters.state || (!props.clusterId && filters.scheduler_cluster_id));

  return (
    <>
      <form
        class="filters"
        role="search"
        aria-label="Filter peers"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ host_name: draft.host_name.trim(), ip: draft.ip.trim(), state: draft.state, cluster: props.clusterId ? undefined : draft.scheduler_cluster_id, page: undefined });
        }}
      >
        <label>
          Host name
          <input name="host_name" value={draft.host_name} onInput={(e) => setDraft({ ...draft, host_name: e.currentTarget.value })} />
        </label>
        <label>
          IP
          <input name="ip" value={draft.ip} onInput={(e) => setDraft({ ...draft, ip: e.currentTarget.value })} />
        </label>
        <label>
          State
          <select name="state" value={draft.state} onChange={(e) => setDraft({ ...draft, state: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="inactive">Inactive</option>
          </select>
        </label>
        {!props.clusterId && (
          <label>
            Cluster
            <select name="cluster" value={draft.scheduler_cluster_id} onChange={(e) => setDraft({ ...draft, scheduler_cluster_id: e.currentTarget.value })}>
              <option value="">Any</option>
              {(clusters.data ?? []).map((c) => (
                <option key={c.id} value={String(c.scheduler_cluster_id)}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="submit" class="button">
          Apply
        </button>
        {filtered && (
          <button
            type="button"
            class="button button-link"
            onClick={() => {
              setDraft({ host_name: "", ip: "", state: "", scheduler_cluster_id: props.clusterId ? String(props.clusterId) : "" });
              setQuery({ host_name: undefined, ip: undefined, state: undefined, cluster: undefined, page: undefined });
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      {data.error ? (
        <ErrorState error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading />
      ) : data.data.items.length === 0 ? (
        <Empty title={filtered ? "No peer matches these filters" : "No peers reported yet"}>
          {!filtered && <p>Peers appear after their scheduler's next peer sync (daily, or on demand with "Sync peers now" on a cluster).</p>}
        </Empty>
      ) : (
        <div class="table-wrap">
          <table aria-label="Peers">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">IP</th>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col">Version</th>
                <th scope="col">Platform</th>
                <th scope="col">Cluster</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {data.data.items.map((p) => (
                <tr key={p.id}>
                  <td>{p.host_name}</td>
                  <td>
                    <code>{p.ip}</code>
                  </td>
                  <td>{p.type ?? "normal"}</td>
                  <td>{p.state ? <Badge value={p.state} /> : "—"}</td>
                  <td>
                    {p.git_version || <span class="muted">unknown</span>}
                    {p.git_commit && <span class="muted small"> {p.git_commit.slice(0, 8)}</span>}
                  </td>
                  <td class="small">{[p.os, p.platform].filter(Boolean).join(" · ") || "—"}</td>
                  <td>{p.scheduler_cluster_id}</td>
                  <td>
                    <Time value={p.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.data && <Pagination page={page} lastPage={data.data.lastPage} onPage={(p) => setQuery({ page: p })} label="Peer pages" />}
    </>
  );
}
