/** Job history: every job of the user's tenants, newest first, filtered by type and state, refreshed while any runs. */
import { list } from "../api.ts";
import { Badge, Empty, ErrorState, Link, Loading, Page, Pagination, Time } from "../components/ui.tsx";
import { useAsync, useInterval } from "../hooks.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Job } from "../types.ts";

const PER_PAGE = 15;
const TYPES = ["preheat", "get_task", "delete_task", "sync_peers", "get_image_distribution", "gc"];

/** What a job worked on, in a few words. */
export function jobTarget(job: Job): string {
  const a = job.args ?? {};
  const urls = Array.isArray(a.urls) ? (a.urls as string[]) : [];
  const url = typeof a.url === "string" && a.url ? a.url : urls[0];
  if (url) return urls.length > 1 ? `${url} and ${urls.length - 1} more` : url;
  if (typeof a.task_id === "string" && a.task_id) return `task ${a.task_id}`;
  return "";
}

/** A job's type, readable. */
export function jobLabel(job: Job): string {
  if (job.type === "preheat") return `Preheat ${typeof job.args?.type === "string" ? job.args.type : ""}`.trim();
  return job.type.replace(/_/g, " ");
}

/** The history page. */
export function JobsPage() {
  const location = useSignal(current);
  const page = Number(location.query.get("page") ?? 1) || 1;
  const type = location.query.get("type") ?? "";
  const state = location.query.get("state") ?? "";
  const data = useAsync(() => list<Job>("/api/v1/jobs", { page, per_page: PER_PAGE, type, state }), [page, type, state]);
  const running = data.data?.items.some((j) => j.state === "PENDING") ?? false;
  useInterval(data.reload, 2000, running);

  return (
    <Page
      title="Job history"
      subtitle="Preheats, task lookups and deletions, and peer syncs, newest first."
      actions={
        <>
          <Link href="/jobs/preheat" class="button button-primary">
            New preheat
          </Link>
          <Link href="/tasks" class="button">
            Find or delete a task
          </Link>
        </>
      }
    >
      <form class="filters" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <label>
          Type
          <select name="type" value={type} onChange={(e) => setQuery({ type: e.currentTarget.value, page: undefined })}>
            <option value="">Any</option>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          State
          <select name="state" value={state} onChange={(e) => setQuery({ state: e.currentTarget.value, page: undefined })}>
            <option value="">Any</option>
            <option value="PENDING">Pending</option>
            <option value="SUCCESS">Success</option>
            <option value="FAILURE">Failure</option>
          </select>
        </label>
        {running && (
          <span class="muted small" role="status">
            Refreshing while jobs run…
          </span>
        )}
      </form>
      {data.error ? (
        <ErrorState error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading />
      ) : data.data.items.length === 0 ? (
        <Empty
          title={type || state ? "No job matches these filters" : "No jobs yet"}
          action={
            !type && !state ? (
              <Link href="/jobs/preheat" class="button button-primary">
                Preheat a file or image
              </Link>
            ) : undefined
          }
        />
      ) : (
        <div class="table-wrap">
          <table aria-label="Jobs">
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col">Target</th>
                <th scope="col">Clusters</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {data.data.items.map((job) => (
                <tr key={job.id} data-testid="job-row">
                  <td>
                    <Link href={`/jobs/${job.id}`}>#{job.id}</Link>
                  </td>
                  <td>{jobLabel(job)}</td>
                  <td>
                    <Badge value={job.state} />
                  </td>
                  <td class="truncate" title={jobTarget(job)}>
                    {jobTarget(job) || <span class="muted">—</span>}
                  </td>
                  <td>{job.scheduler_clusters.map((c) => c.name).join(", ") || <span class="muted">all</span>}</td>
                  <td>
                    <Time value={job.created_at} />
                  </td>
                  <td>{job.state === "PENDING" ? <span class="muted">running</span> : <Time value={job.updated_at} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.data && <Pagination page={page} lastPage={data.data.lastPage} onPage={(p) => setQuery({ page: p })} label="Job pages" />}
    </Page>
  );
}
