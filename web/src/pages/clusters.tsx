/** Clusters: list with live instance counts, search, pagination and delete. */
import { useState } from "preact/hooks";
import { call, count, list } from "../api.ts";
import { Badge, ConfirmButton, Empty, ErrorState, Link, Loading, Page, Pagination, Time, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { can, me } from "../me.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster } from "../types.ts";

const PER_PAGE = 10;

interface Row {
  cluster: Cluster;
  schedulers: number;
  activeSchedulers: number;
  seedPeers: number;
  activeSeedPeers: number;
  peers: number;
}

async function countsOf(cluster: Cluster): Promise<Row> {
  const seedQuery = cluster.seed_peer_cluster_id ? { seed_peer_cluster_id: cluster.seed_peer_cluster_id } : null;
  const [schedulers, activeSchedulers, seedPeers, activeSeedPeers, peers] = await Promise.all([
    count("/api/v1/schedulers", { scheduler_cluster_id: cluster.scheduler_cluster_id }),
    count("/api/v1/schedulers", { scheduler_cluster_id: cluster.scheduler_cluster_id, state: "active" }),
    seedQuery ? count("/api/v1/seed-peers", seedQuery) : 0,
    seedQuery ? count("/api/v1/seed-peers", { ...seedQuery, state: "active" }) : 0,
    count("/api/v1/peers", { scheduler_cluster_id: cluster.scheduler_cluster_id }).catch(() => 0),
  ]);
  return { cluster, schedulers, activeSchedulers, seedPeers, activeSeedPeers, peers };
}

/** The list of clusters. */
export function ClustersPage() {
  const location = useSignal(current);
  const who = useSignal(me);
  const page = Number(location.query.get("page") ?? 1) || 1;
  const name = location.query.get("name") ?? "";
  const [search, setSearch] = useState(name);
  const data = useAsync(async () => {
    const clusters = await list<Cluster>("/api/v1/clusters", { page, per_page: PER_PAGE, name });
    return { ...clusters, rows: await Promise.all(clusters.items.map(countsOf)) };
  }, [page, name]);
  const writable = can(who, "clusters", "*");

  return (
    <Page
      title="Clusters"
      subtitle="A cluster is a scheduler cluster and its seed peer cluster; peers whose scopes match are served by its schedulers."
      actions={
        writable && (
          <Link href="/clusters/new" class="button button-primary">
            New cluster
          </Link>
        )
      }
    >
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ name: search.trim(), page: undefined });
        }}
      >
        <label>
          Name
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="Exact name" />
        </label>
        <button class="button" type="submit">
          Search
        </button>
      </form>
      {data.error ? (
        <ErrorState error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading />
      ) : data.data.rows.length === 0 ? (
        <Empty
          title={name ? `No cluster is named "${name}"` : "No clusters yet"}
          action={
            writable && !name ? (
              <Link href="/clusters/new" class="button button-primary">
                Create the first cluster
              </Link>
            ) : undefined
          }
        >
          {!name && <p>Create a cluster, then start a scheduler with <code>--manager.schedulerClusterID</code> set to its ID.</p>}
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Clusters</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">ID</th>
                <th scope="col">Schedulers</th>
                <th scope="col">Seed peers</th>
                <th scope="col">Peers</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.data.rows.map((row) => (
                <tr key={row.cluster.id}>
                  <td>
                    <Link href={`/clusters/${row.cluster.id}`}>{row.cluster.name}</Link> {row.cluster.is_default && <Badge value="default" />}
                    {row.cluster.bio && <div class="muted small">{row.cluster.bio}</div>}
                  </td>
                  <td>{row.cluster.scheduler_cluster_id}</td>
                  <td>
                    <Badge value={row.activeSchedulers > 0 ? "active" : "inactive"} /> {row.activeSchedulers} of {row.schedulers}
                  </td>
                  <td>
                    {row.activeSeedPeers} of {row.seedPeers}
                  </td>
                  <td>{row.peers}</td>
                  <td class="small">{scopeSummary(row.cluster)}</td>
                  <td>
                    <Time value={row.cluster.created_at} />
                  </td>
                  <td class="row-actions">
                    {writable && (
                      <>
                        <Link href={`/clusters/${row.cluster.id}/edit`} class="button" aria-label={`Edit ${row.cluster.name}`}>
                          Edit
                        </Link>
                        <ConfirmButton
                          label="Delete"
                          ariaLabel={`Delete ${row.cluster.name}`}
                          title={`Delete cluster "${row.cluster.name}"?`}
                          message={<p>The manager refuses while schedulers or seed peers still belong to it. Jobs that ran on it keep their history.</p>}
                          onConfirm={async () => {
                            await call("DELETE", `/api/v1/clusters/${row.cluster.id}`);
                            toast(`Deleted cluster "${row.cluster.name}"`);
                            data.reload();
                          }}
                        />
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.data && <Pagination page={page} lastPage={data.data.lastPage} onPage={(p) => setQuery({ page: p })} />}
    </Page>
  );
}

/** "idc a · location b · 2 CIDRs" or "matches any peer". */
export function scopeSummary(cluster: Cluster): string {
  const s = cluster.scopes ?? {};
  const parts = [
    s.idc ? `IDC ${s.idc}` : "",
    s.location ? `location ${s.location}` : "",
    s.cidrs?.length ? `${s.cidrs.length} CIDR${s.cidrs.length > 1 ? "s" : ""}` : "",
    s.hostnames?.length ? `${s.hostnames.length} hostname pattern${s.hostnames.length > 1 ? "s" : ""}` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(" · ") : "no scopes";
}
