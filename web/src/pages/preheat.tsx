/** A preheat job: files or an image, the scope and hosts, headers and the finer settings, checked before sending. */
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { ClusterPicker } from "../components/cluster-picker.tsx";
import { Field, FormError, Page, messageOf, toast } from "../components/ui.tsx";
import { navigate } from "../router.ts";
import type { Job, JsonObject } from "../types.ts";
import { integerIn, isIP, lines } from "../validate.ts";

/** Dragonfly's image manifest URL form. */
const MANIFEST_URL = /^(.*):\/\/(.*)\/v2\/(.*)\/manifests\/(.*)$/;
const MIB = 1024 * 1024;

type Targets = "all" | "ips" | "count" | "percentage";

interface PreheatForm {
  type: "file" | "image";
  urls: string;
  url: string;
  scope: "single_seed_peer" | "all_seed_peers" | "all_peers";
  targets: Targets;
  ips: string;
  count: string;
  percentage: string;
  headers: { name: string; value: string }[];
  tag: string;
  application: string;
  filtered_query_params: string;
  piece_length: string;
  platform: string;
  username: string;
  password: string;
  concurrent_task_count: string;
  concurrent_peer_count: string;
  bio: string;
  clusters: number[];
}

const EMPTY: PreheatForm = {
  type: "file",
  urls: "",
  url: "",
  scope: "single_seed_peer",
  targets: "all",
  ips: "",
  count: "",
  percentage: "",
  headers: [],
  tag: "",
  application: "",
  filtered_query_params: "",
  piece_length: "",
  platform: "",
  username: "",
  password: "",
  concurrent_task_count: "",
  concurrent_peer_count: "",
  bio: "",
  clusters: [],
};

function isUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return Boolean(u.protocol && (u.host || u.pathname));
  } catch {
    return false;
  }
}

/** Checks the form; returns field errors and, when there are none, the job body. */
export function validatePreheat(f: PreheatForm): { errors: Record<string, string>; body?: JsonObject } {
  const errors: Record<string, string> = {};
  const args: JsonObject = { type: f.type, scope: f.scope };
  if (f.type === "file") {
    const urls = lines(f.urls);
    if (urls.length === 0) errors.urls = "Give at least one URL";
    const bad = urls.find((u) => !isUrl(u));
    if (bad) errors.urls = `"${bad}" is not a URL`;
    if (urls.length === 1) args.url = urls[0];
    else args.urls = urls;
  } else {
    if (!MANIFEST_URL.test(f.url.trim())) errors.url = "Must be a manifest URL like https://registry/v2/<repository>/manifests/<tag or digest>";
    args.url = f.url.trim();
    if (f.platform.trim()) {
      if (!/^[a-z0-9_]+\/[a-z0-9_]+(\/[a-z0-9_]+)?$/i.test(f.platform.trim())) errors.platform = "Must be os/arch or os/arch/variant, like linux/amd64";
      args.platform = f.platform.trim();
    }
    if (f.username) args.username = f.username;
    if (f.password) args.password = f.password;
  }
  if (f.scope !== "single_seed_peer") {
    if (f.targets === "ips") {
      const ips = lines(f.ips.replace(/,/g, "\n"));
      if (ips.length === 0) errors.ips = "Give at least one IP";
      else if (ips.length > 100) errors.ips = "At most 100 IPs";
      const bad = ips.find((ip) => !isIP(ip));
      if (bad) errors.ips = `"${bad}" is not an IP address`;
      args.ips = ips;
    } else if (f.targets === "count") {
      const r = integerIn(f.count, 1, 200);
      if (r.error || r.value === undefined) errors.count = r.error ?? "Give a number of hosts";
      args.count = r.value;
    } else if (f.targets === "percentage") {
      const r = integerIn(f.percentage, 1, 100);
      if (r.error || r.value === undefined) errors.percentage = r.error ?? "Give a percentage";
      args.percentage = r.value;
    }
  }
  const headers: Record<string, string> = {};
  for (const [i, h] of f.headers.entries()) {
    if (!h.name.trim() && !h.value) continue;
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(h.name.trim())) errors[`header${i}`] = `"${h.name}" is not a valid header name`;
    headers[h.name.trim()] = h.value;
  }
  if (Object.keys(headers).length > 0) args.headers = headers;
  if (f.tag.trim()) args.tag = f.tag.trim();
  if (f.application.trim()) args.application = f.application.trim();
  if (f.filtered_query_params.trim()) args.filtered_query_params = f.filtered_query_params.trim();
  if (f.piece_length.trim()) {
    const r = integerIn(f.piece_length, 4, 64);
    if (r.error) errors.piece_length = r.error;
    else if (r.value !== undefined && (r.value & (r.value - 1)) !== 0) errors.piece_length = "Must be a power of two: 4, 8, 16, 32 or 64";
    else args.piece_length = (r.value ?? 0) * MIB;
  }
  const tasks = integerIn(f.concurrent_task_count, 1, 100);
  if (tasks.error) errors.concurrent_task_count = tasks.error;
  else if (tasks.value !== undefined) args.concurrent_task_count = tasks.value;
  const peers = integerIn(f.concurrent_peer_count, 1, 1000);
  if (peers.error) errors.concurrent_peer_count = peers.error;
  else if (peers.value !== undefined) args.concurrent_peer_count = peers.value;
  if (Object.keys(errors).length > 0) return { errors };
  const body: JsonObject = { type: "preheat", args };
  if (f.bio.trim()) body.bio = f.bio.trim();
  if (f.clusters.length > 0) body.scheduler_cluster_ids = f.clusters;
  return { errors, body };
}

/** The preheat form. */
export function PreheatPage() {
  const [form, setForm] = useState<PreheatForm>(EMPTY);
  const [submitted, setSubmitted] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { errors } = validatePreheat(form);
  const shown = (key: string) => (submitted ? errors[key] : undefined);
  const set = <K extends keyof PreheatForm>(key: K) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value as PreheatForm[K] });

  return (
    <Page title="Preheat" subtitle="Fetch files or an image's layers into seed peers (or peers) before anyone asks for them." back={{ href: "/jobs", label: "Job history" }}>
      <form
        class="form"
        noValidate
        onSubmit={async (event) => {
          event.preventDefault();
          setSubmitted(true);
          const result = validatePreheat(form);
          if (!result.body) {
            setError("Fix the fields marked below");
            return;
          }
          setBusy(true);
          setError(null);
          try {
            const job = await call<Job>("POST", "/api/v1/jobs", { body: result.body });
            toast(`Preheat job ${job.id} created`);
            navigate(`/jobs/${job.id}`);
          } catch (e) {
            setError(messageOf(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        <fieldset>
          <legend>What to preheat</legend>
          <div class="radios" role="radiogroup" aria-label="Kind">
            {(["file", "image"] as const).map((t) => (
              <label class="radio" key={t}>
                <input type="radio" name="type" value={t} checked={form.type === t} onChange={() => setForm({ ...form, type: t })} />
                {t === "file" ? "Files (URLs)" : "Container image"}
              </label>
            ))}
          </div>
          {form.type === "file" ? (
            <Field label="URLs" required hint="One per line: http(s), s3://, hdfs://, hf:// …" error={shown("urls")}>
              {(id, d, invalid) => <textarea id={id} name="urls" rows={3} class="code" value={form.urls} aria-invalid={invalid} aria-describedby={d} onInput={set("urls")} placeholder="https://example.com/models/weights.bin" />}
            </Field>
          ) : (
            <>
              <Field label="Manifest URL" required hint="https://registry/v2/<repository>/manifests/<tag or digest>" error={shown("url")}>
                {(id, d, invalid) => <input id={id} name="url" class="code" value={form.url} aria-invalid={invalid} aria-describedby={d} onInput={set("url")} placeholder="https://registry.example.com/v2/library/alpine/manifests/3.20" />}
              </Field>
              <div class="grid-3">
                <Field label="Platform" hint="Default: the manager's, e.g. linux/amd64" error={shown("platform")}>
                  {(id, d, invalid) => <input id={id} name="platform" value={form.platform} aria-invalid={invalid} aria-describedby={d} onInput={set("platform")} />}
                </Field>
                <Field label="Registry user">
                  {(id, d) => <input id={id} name="username" autoComplete="off" value={form.username} aria-describedby={d} onInput={set("username")} />}
                </Field>
                <Field label="Registry password">
                  {(id, d) => <input id={id} name="password" type="password" autoComplete="new-password" value={form.password} aria-describedby={d} onInput={set("password")} />}
                </Field>
              </div>
            </>
          )}
        </fieldset>

        <fieldset>
          <legend>Where</legend>
          <Field label="Scope">
            {(id, d) => (
              <select id={id} name="scope" value={form.scope} aria-describedby={d} onChange={set("scope")}>
                <option value="single_seed_peer">One seed peer per cluster (default)</option>
                <option value="all_seed_peers">All seed peers</option>
                <option value="all_peers">All peers</option>
              </select>
            )}
          </Field>
          {form.scope !== "single_seed_peer" && (
            <>
              <div class="radios" role="radiogroup" aria-label="Which hosts">
                {(
                  [
                    ["all", "Every host"],
                    ["ips", "These IPs"],
                    ["count", "A number of hosts"],
                    ["percentage", "A share of hosts"],
                  ] as const
                ).map(([value, label]) => (
                  <label class="radio" key={value}>
                    <input type="radio" name="targets" value={value} checked={form.targets === value} onChange={() => setForm({ ...form, targets: value })} />
                    {label}
                  </label>
                ))}
              </div>
              {form.targets === "ips" && (
                <Field label="IPs" hint="One per line or comma-separated, at most 100" error={shown("ips")}>
                  {(id, d, invalid) => <textarea id={id} name="ips" rows={3} class="code" value={form.ips} aria-invalid={invalid} aria-describedby={d} onInput={set("ips")} />}
                </Field>
              )}
              {form.targets === "count" && (
                <Field label="Number of hosts" hint="1–200" error={shown("count")}>
                  {(id, d, invalid) => <input id={id} name="count" type="number" min={1} max={200} value={form.count} aria-invalid={invalid} aria-describedby={d} onInput={set("count")} />}
                </Field>
              )}
              {form.targets === "percentage" && (
                <Field label="Percentage of hosts" hint="1–100" error={shown("percentage")}>
                  {(id, d, invalid) => <input id={id} name="percentage" type="number" min={1} max={100} value={form.percentage} aria-invalid={invalid} aria-describedby={d} onInput={set("percentage")} />}
                </Field>
              )}
            </>
          )}
          <ClusterPicker value={form.clusters} onChange={(clusters) => setForm({ ...form, clusters })} />
        </fieldset>

        <fieldset>
          <legend>Request headers</legend>
          <p class="hint">Sent to the origin with every request, e.g. an Authorization header.</p>
          {form.headers.map((h, i) => (
            <div class="header-row" key={i}>
              <Field label={`Header ${i + 1} name`} error={shown(`header${i}`)}>
                {(id, d, invalid) => (
                  <input
                    id={id}
                    value={h.name}
                    aria-invalid={invalid}
                    aria-describedby={d}
                    onInput={(e) => setForm({ ...form, headers: form.headers.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)) })}
                  />
                )}
              </Field>
              <Field label={`Header ${i + 1} value`}>
                {(id, d) => (
                  <input id={id} value={h.value} aria-describedby={d} onInput={(e) => setForm({ ...form, headers: form.headers.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)) })} />
                )}
              </Field>
              <button type="button" class="button" aria-label={`Remove header ${i + 1}`} onClick={() => setForm({ ...form, headers: form.headers.filter((_, j) => j !== i) })}>
                Remove
              </button>
            </div>
          ))}
          <button type="button" class="button" onClick={() => setForm({ ...form, headers: [...form.headers, { name: "", value: "" }] })}>
            Add a header
          </button>
        </fieldset>

        <details class="advanced">
          <summary>Advanced settings</summary>
          <div class="grid-3">
            <Field label="Tag" hint="Part of the task ID">
              {(id, d) => <input id={id} name="tag" value={form.tag} aria-describedby={d} onInput={set("tag")} />}
            </Field>
            <Field label="Application" hint="Part of the task ID">
              {(id, d) => <input id={id} name="application" value={form.application} aria-describedby={d} onInput={set("application")} />}
            </Field>
            <Field label="Piece length (MiB)" hint="4, 8, 16, 32 or 64; empty lets the peer choose" error={shown("piece_length")}>
              {(id, d, invalid) => <input id={id} name="piece_length" type="number" min={4} max={64} value={form.piece_length} aria-invalid={invalid} aria-describedby={d} onInput={set("piece_length")} />}
            </Field>
            <Field label="Filtered query parameters" hint="&-separated names left out of the task ID; empty uses the cloud-signature defaults">
              {(id, d) => <input id={id} name="filtered_query_params" value={form.filtered_query_params} aria-describedby={d} onInput={set("filtered_query_params")} />}
            </Field>
            <Field label="URLs at once" hint="Per scheduler, 1–100 (default 8)" error={shown("concurrent_task_count")}>
              {(id, d, invalid) => <input id={id} name="concurrent_task_count" type="number" min={1} max={100} value={form.concurrent_task_count} aria-invalid={invalid} aria-describedby={d} onInput={set("concurrent_task_count")} />}
            </Field>
            <Field label="Hosts at once" hint="Per URL, 1–1,000 (default 500)" error={shown("concurrent_peer_count")}>
              {(id, d, invalid) => <input id={id} name="concurrent_peer_count" type="number" min={1} max={1000} value={form.concurrent_peer_count} aria-invalid={invalid} aria-describedby={d} onInput={set("concurrent_peer_count")} />}
            </Field>
          </div>
          <Field label="Description">
            {(id, d) => <input id={id} name="bio" value={form.bio} aria-describedby={d} onInput={set("bio")} />}
          </Field>
        </details>

        <FormError error={error} />
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? "Creating…" : "Start preheat"}
          </button>
        </div>
      </form>
    </Page>
  );
}
