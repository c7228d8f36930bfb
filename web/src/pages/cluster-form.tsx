/** Create or edit a cluster: scopes, the scheduler, peer and seed peer configs, with checks before sending. */
import { useEffect, useState } from "preact/hooks";
import { call, get } from "../api.ts";
import { ErrorState, Field, FormError, Loading, Page, messageOf, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { me } from "../me.ts";
import { navigate } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Cluster, JsonObject } from "../types.ts";
import { badPatterns, integerIn, isCIDR, jsonObject, lines } from "../validate.ts";

/** Numeric settings: key in its config, label, bounds, default, hint. */
const SCHEDULER_FIELDS = [
  ["candidate_parent_limit", "Candidate parent limit", 1, 20, 3, "Parents a peer downloads from at once"],
  ["filter_parent_limit", "Filter parent limit", 10, 1000, 15, "Peers considered when choosing parents"],
  ["job_rate_limit", "Job rate limit", 1, 1_000_000, 10, "Jobs per second this cluster accepts"],
] as const;

interface FormState {
  name: string;
  bio: string;
  is_default: boolean;
  tenant_id: string;
  idc: string;
  location: string;
  cidrs: string;
  hostnames: string;
  candidate_parent_limit: string;
  filter_parent_limit: string;
  job_rate_limit: string;
  peer_load_limit: string;
  seed_load_limit: string;
  scheduler_extra: string;
  peer_extra: string;
  seed_extra: string;
}

const NUMERIC_KEYS = new Set(["candidate_parent_limit", "filter_parent_limit", "job_rate_limit", "load_limit"]);

function extra(config: JsonObject | undefined): string {
  const rest = Object.fromEntries(Object.entries(config ?? {}).filter(([key]) => !NUMERIC_KEYS.has(key)));
  return Object.keys(rest).length > 0 ? JSON.stringify(rest, null, 2) : "";
}

function fromCluster(c: Cluster | undefined): FormState {
  const numeric = (config: JsonObject | undefined, key: string, fallback: number) => String((config?.[key] as number | undefined) ?? (c ? "" : fallback));
  return {
    name: c?.name ?? "",
    bio: c?.bio ?? "",
    is_default: c?.is_default ?? false,
    tenant_id: c ? String(c.tenant_id) : "",
    idc: c?.scopes?.idc ?? "",
    location: c?.scopes?.location ?? "",
    cidrs: (c?.scopes?.cidrs ?? []).join("\n"),
    hostnames: (c?.scopes?.hostnames ?? []).join("\n"),
    candidate_parent_limit: numeric(c?.scheduler_cluster_config, "candidate_parent_limit", 3),
    filter_parent_limit: numeric(c?.scheduler_cluster_config, "filter_parent_limit", 15),
    job_rate_limit: numeric(c?.scheduler_cluster_config, "job_rate_limit", 10),
    peer_load_limit: numeric(c?.peer_cluster_config, "load_limit", 200),
    seed_load_limit: numeric(c?.seed_peer_cluster_config, "load_limit", 2000),
    scheduler_extra: extra(c?.scheduler_cluster_config),
    peer_extra: extra(c?.peer_cluster_config),
    seed_extra: extra(c?.seed_peer_cluster_config),
  };
}

/** Checks the form; returns field errors and, when there are none, the request body. */
export function validateCluster(f: FormState): { errors: Partial<Record<keyof FormState, string>>; body?: JsonObject } {
  const errors: Partial<Record<keyof FormState, string>> = {};
  if (!f.name.trim()) errors.name = "A name is required";
  const cidrs = lines(f.cidrs);
  const badCidr = cidrs.find((c) => !isCIDR(c));
  if (badCidr) errors.cidrs = `"${badCidr}" is not a CIDR block like 10.0.0.0/8 or fd00::/8`;
  const hostnames = lines(f.hostnames);
  const badHost = badPatterns(hostnames);
  if (badHost) errors.hostnames = badHost;
  const numbers: Record<string, number | undefined> = {};
  for (const [key, , min, max] of SCHEDULER_FIELDS) {
    const r = integerIn(f[key], min, max);
    if (r.error) errors[key] = r.error;
    numbers[key] = r.value;
  }
  const peerLoad = integerIn(f.peer_load_limit, 1, 2000);
  if (peerLoad.error) errors.peer_load_limit = peerLoad.error;
  const seedLoad = integerIn(f.seed_load_limit, 1, 50_000);
  if (seedLoad.error) errors.seed_load_limit = seedLoad.error;
  const schedulerExtra = jsonObject(f.scheduler_extra);
  if (schedulerExtra.error) errors.scheduler_extra = schedulerExtra.error;
  const peerExtra = jsonObject(f.peer_extra);
  if (peerExtra.error) errors.peer_extra = peerExtra.error;
  const seedExtra = jsonObject(f.seed_extra);
  if (seedExtra.error) errors.seed_extra = seedExtra.error;
  if (Object.keys(errors).length > 0) return { errors };
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ""));
  const body: JsonObject = {
    name: f.name.trim(),
    bio: f.bio,
    is_default: f.is_default,
    scopes: defined({ idc: f.idc.trim(), location: f.location.trim(), cidrs, hostnames }),
    scheduler_cluster_config: { ...schedulerExtra.value, ...defined(numbers) },
    peer_cluster_config: { ...peerExtra.value, ...defined({ load_limit: peerLoad.value }) },
    seed_peer_cluster_config: { ...seedExtra.value, ...defined({ load_limit: seedLoad.value }) },
  };
  if (f.tenant_id) body.tenant_id = Number(f.tenant_id);
  return { errors, body };
}

/** The create or edit page. */
export function ClusterFormPage(props: { id?: number }) {
  const editing = props.id !== undefined;
  const existing = useAsync(() => (editing ? get<Cluster>(`/api/v1/clusters/${props.id}`) : Promise.resolve(undefined)), [props.id]);
  if (editing && existing.error) return <Page title="Edit cluster" back={{ href: "/clusters", label: "Clusters" }}><ErrorState error={existing.error} retry={existing.reload} /></Page>;
  if (editing && !existing.data) return <Page title="Edit cluster" back={{ href: "/clusters", label: "Clusters" }}><Loading /></Page>;
  return <ClusterForm cluster={existing.data} />;
}

function ClusterForm(props: { cluster?: Cluster }) {
  const who = useSignal(me);
  const cluster = props.cluster;
  const [form, setForm] = useState<FormState>(() => fromCluster(cluster));
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setForm(fromCluster(cluster)), [cluster?.id]);
  const { errors } = validateCluster(form);
  const shown = (key: keyof FormState) => (touched || form[key] !== fromCluster(cluster)[key] ? errors[key] : undefined);
  const set = (key: keyof FormState) => (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement }) => setForm({ ...form, [key]: e.currentTarget.value });
  const title = cluster ? `Edit ${cluster.name}` : "New cluster";
  const tenants = who?.tenants ?? [];

  return (
    <Page title={title} back={cluster ? { href: `/clusters/${cluster.id}`, label: cluster.name } : { href: "/clusters", label: "Clusters" }}>
      <form
        class="form"
        noValidate
        onSubmit={async (event) => {
          event.preventDefault();
          setTouched(true);
          const result = validateCluster(form);
          if (!result.body) {
            setError("Fix the fields marked below");
            return;
          }
          setBusy(true);
          setError(null);
          try {
            const body = { ...result.body };
            if (cluster) delete body.tenant_id;
            const saved = cluster
              ? await call<Cluster>("PATCH", `/api/v1/clusters/${cluster.id}`, { body })
              : await call<Cluster>("POST", "/api/v1/clusters", { body });
            toast(cluster ? `Saved cluster "${saved.name}"` : `Created cluster "${saved.name}"`);
            navigate(`/clusters/${saved.id}`);
          } catch (e) {
            setError(messageOf(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        <fieldset>
          <legend>Cluster</legend>
          <div class="grid-2">
            <Field label="Name" required error={shown("name")}>
              {(id, d, invalid) => <input id={id} name="name" value={form.name} maxLength={256} aria-invalid={invalid} aria-describedby={d} onInput={set("name")} />}
            </Field>
            {!cluster && who?.root && tenants.length > 1 && (
              <Field label="Tenant" hint="Who owns the cluster">
                {(id, d) => (
                  <select id={id} name="tenant_id" value={form.tenant_id} aria-describedby={d} onChange={set("tenant_id")}>
                    <option value="">Your first tenant</option>
                    {tenants.map((t) => (
                      <option key={t.id} value={String(t.id)}>
                        {t.name}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            )}
          </div>
          <Field label="Description">
            {(id, d) => <textarea id={id} name="bio" rows={2} maxLength={1024} value={form.bio} aria-describedby={d} onInput={set("bio")} />}
          </Field>
          <label class="checkbox">
            <input type="checkbox" name="is_default" checked={form.is_default} onChange={(e) => setForm({ ...form, is_default: e.currentTarget.checked })} />
            Default cluster: peers that match no cluster's scopes use this one
          </label>
        </fieldset>

        <fieldset>
          <legend>Scopes</legend>
          <p class="hint">Peers are matched to the cluster whose scopes fit them best. Leave all empty to match on nothing but the default flag.</p>
          <div class="grid-2">
            <Field label="IDC" hint="Data centre name, e.g. dc-1">
              {(id, d) => <input id={id} name="idc" value={form.idc} aria-describedby={d} onInput={set("idc")} />}
            </Field>
            <Field label="Location" hint="Path like country|region|zone">
              {(id, d) => <input id={id} name="location" value={form.location} aria-describedby={d} onInput={set("location")} />}
            </Field>
            <Field label="CIDRs" hint="One per line, e.g. 10.0.0.0/8" error={shown("cidrs")}>
              {(id, d, invalid) => <textarea id={id} name="cidrs" rows={3} value={form.cidrs} aria-invalid={invalid} aria-describedby={d} onInput={set("cidrs")} />}
            </Field>
            <Field label="Hostnames" hint="One regular expression per line" error={shown("hostnames")}>
              {(id, d, invalid) => <textarea id={id} name="hostnames" rows={3} value={form.hostnames} aria-invalid={invalid} aria-describedby={d} onInput={set("hostnames")} />}
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Scheduling</legend>
          <div class="grid-3">
            {SCHEDULER_FIELDS.map(([key, label, min, max, , hint]) => (
              <Field key={key} label={label} hint={`${hint} (${min}–${max.toLocaleString()})`} error={shown(key)}>
                {(id, d, invalid) => <input id={id} name={key} type="number" inputMode="numeric" min={min} max={max} value={form[key]} aria-invalid={invalid} aria-describedby={d} onInput={set(key)} />}
              </Field>
            ))}
          </div>
          <Field label="More scheduler settings (JSON)" hint="Merged into the scheduler cluster config" error={shown("scheduler_extra")}>
            {(id, d, invalid) => <textarea id={id} name="scheduler_extra" class="code" rows={3} value={form.scheduler_extra} placeholder="{}" aria-invalid={invalid} aria-describedby={d} onInput={set("scheduler_extra")} />}
          </Field>
        </fieldset>

        <fieldset>
          <legend>Load limits</legend>
          <div class="grid-2">
            <Field label="Peer load limit" hint="Uploads a normal peer serves at once (1–2,000)" error={shown("peer_load_limit")}>
              {(id, d, invalid) => <input id={id} name="peer_load_limit" type="number" min={1} max={2000} value={form.peer_load_limit} aria-invalid={invalid} aria-describedby={d} onInput={set("peer_load_limit")} />}
            </Field>
            <Field label="Seed peer load limit" hint="Uploads a seed peer serves at once (1–50,000)" error={shown("seed_load_limit")}>
              {(id, d, invalid) => <input id={id} name="seed_load_limit" type="number" min={1} max={50000} value={form.seed_load_limit} aria-invalid={invalid} aria-describedby={d} onInput={set("seed_load_limit")} />}
            </Field>
            <Field label="More peer settings (JSON)" hint='For example {"block_list": {…}}' error={shown("peer_extra")}>
              {(id, d, invalid) => <textarea id={id} name="peer_extra" class="code" rows={3} value={form.peer_extra} placeholder="{}" aria-invalid={invalid} aria-describedby={d} onInput={set("peer_extra")} />}
            </Field>
            <Field label="More seed peer settings (JSON)" error={shown("seed_extra")}>
              {(id, d, invalid) => <textarea id={id} name="seed_extra" class="code" rows={3} value={form.seed_extra} placeholder="{}" aria-invalid={invalid} aria-describedby={d} onInput={set("seed_extra")} />}
            </Field>
          </div>
        </fieldset>

        <FormError error={error} />
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? "Saving…" : cluster ? "Save changes" : "Create cluster"}
          </button>
          <button type="button" class="button" onClick={() => history.back()}>
            Cancel
          </button>
        </div>
      </form>
    </Page>
  );
}
