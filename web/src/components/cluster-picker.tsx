/** Picks the clusters a job runs on; none picked means every cluster the user sees. */
import { all } from "../api.ts";
import { useAsync } from "../hooks.ts";
import type { Cluster } from "../types.ts";
import { ErrorState } from "./ui.tsx";

/** Checkboxes of clusters by scheduler cluster ID. */
export function ClusterPicker(props: { value: number[]; onChange: (ids: number[]) => void }) {
  const clusters = useAsync(() => all<Cluster>("/api/v1/clusters"), []);
  return (
    <fieldset class="picker">
      <legend>Clusters</legend>
      {clusters.error ? (
        <ErrorState error={clusters.error} retry={clusters.reload} />
      ) : !clusters.data ? (
        <p class="muted">Loading clusters…</p>
      ) : clusters.data.length === 0 ? (
        <p class="muted">You have no clusters yet; the job runs on none until one exists.</p>
      ) : (
        <>
          <p class="hint">Leave all unticked to run on every cluster.</p>
          <div class="checks">
            {clusters.data.map((c) => (
              <label class="checkbox" key={c.id}>
                <input
                  type="checkbox"
                  name="cluster"
                  value={String(c.scheduler_cluster_id)}
                  checked={props.value.includes(c.scheduler_cluster_id)}
                  onChange={(e) =>
                    props.onChange(e.currentTarget.checked ? [...props.value, c.scheduler_cluster_id] : props.value.filter((id) => id !== c.scheduler_cluster_id))
                  }
                />
                {c.name} <span class="muted small">#{c.scheduler_cluster_id}</span>
              </label>
            ))}
          </div>
        </>
      )}
    </fieldset>
  );
}
