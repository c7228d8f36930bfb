/** Tasks: find which peers hold a task (get_task), clear it from every peer (delete_task), and view its peer graph. */
import { useState } from "preact/hooks";
import { all, call, get } from "../api.ts";
import { ClusterPicker } from "../components/cluster-picker.tsx";
import { PeerGraph, type TaskGraph } from "../components/peer-graph.tsx";
import { Card, Empty, ErrorState, Field, FormError, Loading, Page, messageOf, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { can, me } from "../me.ts";
import { current, navigate, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster, Job, JsonObject } from "../types.ts";
import { integerIn } from "../validate.ts";

const MIB = 1024 * 1024;

interface TaskForm {
  by: "url" | "task_id";
  url: string;
  task_id: string;
  tag: string;
  application: string;
  piece_length: string;
  filtered_query_params: string;
  clusters: number[];
}

/** Checks the form; returns an error or the job args. */
export function taskArgs(f: TaskForm): { error?: string; field?: string; args?: JsonObject } {
  if (f.by === "task_id") {
    if (!/^[0-9a-f]{64}$/i.test(f.task_id.trim())) return { field: "task_id", error: "A task ID is 64 hexadecimal characters" };
    return { args: { task_id: f.task_id.trim().toLowerCase() } };
  }
  try {
    new URL(f.url.trim());
  } catch {
    return { field: "url", error: "Give the URL the task was downloaded from" };
  }
  const args: JsonObject = { url: f.url.trim() };
  if (f.tag.trim()) args.tag = f.tag.trim();
  if (f.application.trim()) args.application = f.application.trim();
  if (f.filtered_query_params.trim()) args.filtered_query_params = f.filtered_query_params.trim();
  if (f.piece_length.trim()) {
    const r = integerIn(f.piece_length, 4, 64);
    if (r.error) return { field: "piece_length", error: r.error };
    args.piece_length = (r.value ?? 0) * MIB;
  }
  return { args };
}

/** The tasks page. */
export function TasksPage() {
  const location = useSignal(current);
  const who = useSignal(me);
  const initialTask = location.query.get("task_id") ?? "";
  const [form, setForm] = useState<TaskForm>({ by: initialTask ? "task_id" : "url", url: "", task_id: initialTask, tag: "", application: "", piece_length: "", filtered_query_params: "", clusters: [] });
  const [submitted, setSubmitted] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<"get_task" | "delete_task" | null>(null);
  const checked = taskArgs(form);
  const fieldError = (name: string) => (submitted && checked.field === name ? checked.error : undefined);
  const set = (key: keyof TaskForm) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value });

  const run = async (type: "get_task" | "delete_task") => {
    setSubmitted(true);
    if (!checked.args) return;
    if (type === "delete_task" && !confirm("Delete this task's data from every peer that holds it?")) return;
    setBusy(type);
    setError(null);
    try {
      const body: JsonObject = { type, args: checked.args };
      if (form.clusters.length > 0) body.scheduler_cluster_ids = form.clusters;
      const job = await call<Job>("POST", "/api/v1/jobs", { body });
      toast(`${type === "get_task" ? "Lookup" : "Deletion"} job ${job.id} created`);
      navigate(`/jobs/${job.id}`);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Page title="Tasks" subtitle="A task is one file's content as the peers cache it, named by its task ID.">
      <Card title="Find or clear a task">
        <form class="form" noValidate onSubmit={(e) => (e.preventDefault(), void run("get_task"))}>
          <div class="radios" role="radiogroup" aria-label="Identify the task by">
            <label class="radio">
              <input type="radio" name="by" checked={form.by === "url"} onChange={() => setForm({ ...form, by: "url" })} /> URL
            </label>
            <label class="radio">
              <input type="radio" name="by" checked={form.by === "task_id"} onChange={() => setForm({ ...form, by: "task_id" })} /> Task ID
            </label>
          </div>
          {form.by === "url" ? (
            <>
              <Field label="URL" required error={fieldError("url")}>
                {(id, d, invalid) => <input id={id} name="url" class="code" value={form.url} aria-invalid={invalid} aria-describedby={d} onInput={set("url")} />}
              </Field>
              <div class="grid-3">
                <Field label="Tag">{(id, d) => <input id={id} name="tag" value={form.tag} aria-describedby={d} onInput={set("tag")} />}</Field>
                <Field label="Application">{(id, d) => <input id={id} name="application" value={form.application} aria-describedby={d} onInput={set("application")} />}</Field>
                <Field label="Piece length (MiB)" error={fieldError("piece_length")}>
                  {(id, d, invalid) => <input id={id} name="piece_length" type="number" min={4} max={64} value={form.piece_length} aria-invalid={invalid} aria-describedby={d} onInput={set("piece_length")} />}
                </Field>
              </div>
              <Field label="Filtered query parameters" hint="&-separated names left out of the task ID">
                {(id, d) => <input id={id} name="filtered_query_params" value={form.filtered_query_params} aria-describedby={d} onInput={set("filtered_query_params")} />}
              </Field>
            </>
          ) : (
            <Field label="Task ID" required hint="64 hexadecimal characters" error={fieldError("task_id")}>
              {(id, d, invalid) => <input id={id} name="task_id" class="code" value={form.task_id} aria-invalid={invalid} aria-describedby={d} onInput={set("task_id")} />}
            </Field>
          )}
          <ClusterPicker value={form.clusters} onChange={(clusters) => setForm({ ...form, clusters })} />
          <FormError error={error} />
          <div class="form-actions">
            <button type="submit" class="button button-primary" disabled={busy !== null}>
              {busy === "get_task" ? "Starting…" : "Find peers holding it"}
            </button>
            {can(who, "jobs", "*") && (
              <button type="button" class="button button-danger" disabled={busy !== null} onClick={() => void run("delete_task")}>
                {busy === "delete_task" ? "Starting…" : "Delete it from every peer"}
              </button>
            )}
          </div>
        </form>
      </Card>
      <GraphCard initialTask={location.query.get("graph") ?? ""} initialCluster={location.query.get("graph_cluster") ?? ""} suggested={initialTask} />
    </Page>
  );
}

function GraphCard(props: { initialTask: string; initialCluster: string; suggested: string }) {
  const [taskId, setTaskId] = useState(props.initialTask || props.suggested);
  const [cluster, setCluster] = useState(props.initialCluster);
  const clusters = useAsync(() => all<Cluster>("/api/v1/clusters"), []);
  const shown = props.initialTask;
  const clusterId = cluster || String(clusters.data?.[0]?.scheduler_cluster_id ?? "");
  const graph = useAsync(
    () => (shown && clusterId ? get<TaskGraph>(`/api/v1/tasks/${encodeURIComponent(shown)}/graph`, { scheduler_cluster_id: clusterId }) : Promise.resolve(null)),
    [shown, clusterId],
  );
  return (
    <Card title="Peer graph" id="graph">
      <p class="hint">Who got pieces from whom for one task, as the cluster's schedulers reported it; the origin stands for back-to-source downloads.</p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const next = taskId.trim();
          // The same task again re-reads it: transfers keep arriving while downloads run.
          if (next === shown && clusterId === props.initialCluster) graph.reload();
          else setQuery({ graph: next, graph_cluster: clusterId || undefined });
        }}
      >
        <label>
          Task ID
          <input name="graph_task_id" class="code" size={40} value={taskId} onInput={(e) => setTaskId(e.currentTarget.value)} />
        </label>
        <label>
          Cluster
          <select name="graph_cluster" value={clusterId} onChange={(e) => setCluster(e.currentTarget.value)}>
            {(clusters.data ?? []).map((c) => (
              <option key={c.id} value={String(c.scheduler_cluster_id)}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="button">
          Show graph
        </button>
      </form>
      {!shown ? (
        <Empty title="Pick a task">
          <p>Enter a task ID, for example from a lookup job's result, to draw its peers.</p>
        </Empty>
      ) : graph.error ? (
        <ErrorState error={graph.error} retry={graph.reload} />
      ) : graph.loading && !graph.data ? (
        <Loading />
      ) : !graph.data || graph.data.peers.length === 0 ? (
        <Empty title="No transfers recorded for this task">
          <p>Schedulers report who got which pieces from whom as downloads run; the manager keeps them for seven days. Check the task ID and the cluster.</p>
        </Empty>
      ) : (
        <PeerGraph graph={graph.data} />
      )}
    </Card>
  );
}
