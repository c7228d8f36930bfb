/** One job, watched live: its state, each scheduler's task, per-host successes and failures, and the raw result. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.ts";
import { Badge, Card, ConfirmButton, ErrorState, JsonDetails, Link, Loading, Page, Time, toast } from "../components/ui.tsx";
import { useAsync, useInterval } from "../hooks.ts";
import { can, me } from "../me.ts";
import { navigate } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Job, JobTaskState, JsonObject } from "../types.ts";
import { jobLabel, jobTarget } from "./jobs.tsx";

/** How often a running job is re-read. */
const POLL_MS = 1000;

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Ticks every second while `active`, for elapsed times. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/** The job page. */
export function JobDetailPage(props: { id: number }) {
  const who = useSignal(me);
  const job = useAsync(() => get<Job>(`/api/v1/jobs/${props.id}`), [props.id]);
  const pending = job.data?.state === "PENDING";
  useInterval(job.reload, POLL_MS, pending);
  const now = useNow(pending);
  if (job.error && !job.data) return <Page title={`Job #${props.id}`} back={{ href: "/jobs", label: "Job history" }}><ErrorState error={job.error} retry={job.reload} /></Page>;
  if (!job.data) return <Page title={`Job #${props.id}`} back={{ href: "/jobs", label: "Job history" }}><Loading /></Page>;
  const j = job.data;
  const states = j.result?.job_states ?? [];
  const finished = j.state !== "PENDING";
  const elapsed = (finished ? Date.parse(j.updated_at) : now) - Date.parse(j.created_at);

  return (
    <Page
      title={`${jobLabel(j)} · job #${j.id}`}
      subtitle={jobTarget(j) || undefined}
      back={{ href: "/jobs", label: "Job history" }}
      actions={
        can(who, "jobs", "*") && (
          <ConfirmButton
            label="Delete"
            title={`Delete job #${j.id}?`}
            message={<p>Only the record goes; anything it preheated stays in the peers' caches.</p>}
            onConfirm={async () => {
              await call("DELETE", `/api/v1/jobs/${j.id}`);
              toast(`Deleted job #${j.id}`);
              navigate("/jobs");
            }}
          />
        )
      }
    >
      <Card>
        <div class="job-status">
          <div>
            <span class="label">State</span>
            <span data-testid="job-state" aria-live="polite">
              <Badge value={j.state} />
            </span>
          </div>
          <div>
            <span class="label">{finished ? "Took" : "Running for"}</span>
            <span>{duration(elapsed)}</span>
          </div>
          <div>
            <span class="label">Created</span>
            <Time value={j.created_at} />
          </div>
          <div>
            <span class="label">Clusters</span>
            <span>{j.scheduler_clusters.map((c) => c.name).join(", ") || "all"}</span>
          </div>
        </div>
        {!finished && (
          <div class="progress" role="progressbar" aria-label="Job progress" aria-valuetext="Waiting for the schedulers to finish">
            <div class="progress-bar indeterminate" />
          </div>
        )}
        {!finished && <p class="hint">Each cluster's scheduler claims the job, runs it and reports back; this page updates every second.</p>}
        {job.error && <p class="warn small">Last refresh failed: {job.error.message}</p>}
      </Card>

      {finished && states.length === 0 && (
        <Card title="Result">
          <p class="muted">No scheduler reported on this job. {j.state === "FAILURE" ? "It may have had no active scheduler to run on." : ""}</p>
        </Card>
      )}
      {states.map((state, i) => (
        <TaskResult key={state.task_uuid || i} job={j} state={state} index={i} />
      ))}

      <div class="grid-2">
        <JsonDetails summary="Arguments" value={j.args} />
        {j.result && <JsonDetails summary="Raw result" value={j.result} />}
      </div>
    </Page>
  );
}

function TaskResult(props: { job: Job; state: JobTaskState; index: number }) {
  const { state, job } = props;
  const result = (state.results?.[0] ?? {}) as JsonObject;
  const cluster = typeof result.scheduler_cluster_id === "number" ? job.scheduler_clusters.find((c) => c.id === result.scheduler_cluster_id) : undefined;
  return (
    <Card
      title={
        <>
          {cluster ? `Cluster ${cluster.name}` : `Scheduler task ${props.index + 1}`} <Badge value={state.state} />
        </>
      }
    >
      {state.error && (
        <p class="form-error" role="alert">
          {state.error}
        </p>
      )}
      {job.type === "get_task" ? (
        <Holders result={result} />
      ) : job.type === "sync_peers" ? (
        <SyncedHosts result={result} />
      ) : (
        <Outcomes result={result} />
      )}
    </Card>
  );
}

interface Outcome {
  url?: string;
  task_id?: string;
  hostname: string;
  ip: string;
  description?: string;
}

function Outcomes(props: { result: JsonObject }) {
  const success = (props.result.success_tasks as Outcome[] | undefined) ?? [];
  const failure = (props.result.failure_tasks as Outcome[] | undefined) ?? [];
  if (success.length === 0 && failure.length === 0) return <p class="muted">No host was involved.</p>;
  const rows: ComponentChildren[] = [
    ...success.map((o, i) => (
      <tr key={`s${i}`}>
        <td>
          <Badge value="success" />
        </td>
        <td>{o.hostname || <span class="muted">—</span>}</td>
        <td>
          <code>{o.ip || "—"}</code>
        </td>
        <td class="truncate" title={o.url ?? o.task_id}>
          {o.url ?? o.task_id}
        </td>
        <td />
      </tr>
    )),
    ...failure.map((o, i) => (
      <tr key={`f${i}`}>
        <td>
          <Badge value="failure" />
        </td>
        <td>{o.hostname || <span class="muted">—</span>}</td>
        <td>
          <code>{o.ip || "—"}</code>
        </td>
        <td class="truncate" title={o.url ?? o.task_id}>
          {o.url ?? o.task_id}
        </td>
        <td class="error-text">{o.description}</td>
      </tr>
    )),
  ];
  return (
    <>
      <p>
        <strong>{success.length}</strong> succeeded, <strong>{failure.length}</strong> failed.
      </p>
      <div class="table-wrap">
        <table aria-label="Hosts">
          <thead>
            <tr>
              <th scope="col">Outcome</th>
              <th scope="col">Host</th>
              <th scope="col">IP</th>
              <th scope="col">URL or task</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>{rows}</tbody>
        </table>
      </div>
    </>
  );
}

interface Holder {
  id: string;
  hostname: string;
  ip: string;
  host_type: string;
  is_finished: boolean;
  content_length?: number;
  updated_at?: string;
}

function Holders(props: { result: JsonObject }) {
  const peers = (props.result.peers as Holder[] | undefined) ?? [];
  const taskId = typeof props.result.task_id === "string" ? props.result.task_id : "";
  return (
    <>
      {taskId && (
        <p>
          Task <code>{taskId}</code> · <Link href={`/tasks?task_id=${encodeURIComponent(taskId)}`}>Open in Tasks</Link>
        </p>
      )}
      {peers.length === 0 ? (
        <p class="muted">No host holds this task.</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Hosts holding the task">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">IP</th>
                <th scope="col">Type</th>
                <th scope="col">Complete</th>
                <th scope="col">Size</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {peers.map((p) => (
                <tr key={p.id}>
                  <td>{p.hostname}</td>
                  <td>
                    <code>{p.ip}</code>
                  </td>
                  <td>{p.host_type}</td>
                  <td>{p.is_finished ? <Badge value="finished" /> : <Badge value="partial" />}</td>
                  <td>{typeof p.content_length === "number" && p.content_length >= 0 ? formatBytes(p.content_length) : "—"}</td>
                  <td>
                    <Time value={p.updated_at} fallback="—" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function SyncedHosts(props: { result: JsonObject }) {
  const hosts = (props.result.hosts as { id: string; hostname: string; ip: string; type: string; git_version?: string }[] | undefined) ?? [];
  return (
    <>
      <p>
        The scheduler reported <strong>{hosts.length}</strong> host{hosts.length === 1 ? "" : "s"}. <Link href="/peers">See all peers</Link>.
      </p>
      {hosts.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Reported hosts">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">IP</th>
                <th scope="col">Type</th>
                <th scope="col">Version</th>
              </tr>
            </thead>
            <tbody>
              {hosts.slice(0, 100).map((h) => (
                <tr key={h.id}>
                  <td>{h.hostname}</td>
                  <td>
                    <code>{h.ip}</code>
                  </td>
                  <td>{h.type}</td>
                  <td>{h.git_version || <span class="muted">unknown</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
