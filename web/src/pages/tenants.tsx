/** Tenants: who owns clusters, jobs and tokens. Root creates them and moves users in and out; others see their own. */
import { useState } from "preact/hooks";
import { all, call, get } from "../api.ts";
import { Card, ConfirmButton, Empty, ErrorState, Field, FormError, Loading, Page, Time, messageOf, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { loadMe, me } from "../me.ts";
import { session } from "../session.ts";
import { useSignal } from "../signal.ts";
import type { Tenant, TenantMember, User } from "../types.ts";

/** The tenants page. */
export function TenantsPage() {
  const who = useSignal(me);
  const data = useAsync(() => get<Tenant[]>("/api/v1/tenants", { per_page: 1000 }), []);
  const users = useAsync(() => (who?.root ? all<User>("/api/v1/users") : Promise.resolve([] as User[])), [who?.root]);
  const refresh = () => {
    data.reload();
    const current = session.value;
    if (current) void loadMe(current).catch(() => undefined);
  };
  return (
    <Page title="Tenants" subtitle="Each tenant sees only its own clusters, jobs, peers and tokens.">
      {who?.root && <NewTenant onCreated={refresh} />}
      {data.error ? (
        <ErrorState error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading />
      ) : data.data.length === 0 ? (
        <Empty title="You belong to no tenant">
          <p>Ask an administrator to add you to one.</p>
        </Empty>
      ) : (
        data.data.map((t) => <TenantCard key={t.id} tenant={t} root={Boolean(who?.root)} users={users.data ?? []} onChange={refresh} />)
      )}
    </Page>
  );
}

function NewTenant(props: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [bio, setBio] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <Card title="New tenant">
      <form
        class="inline-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!name.trim()) return setError("A name is required");
          setError(null);
          try {
            const t = await call<Tenant>("POST", "/api/v1/tenants", { body: { name: name.trim(), bio } });
            toast(`Created tenant "${t.name}"`);
            setName("");
            setBio("");
            props.onCreated();
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        <Field label="Name" required>
          {(id, d) => <input id={id} name="tenant_name" value={name} aria-describedby={d} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <Field label="Description">
          {(id, d) => <input id={id} name="tenant_bio" value={bio} aria-describedby={d} onInput={(e) => setBio(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="button button-primary">
          Create tenant
        </button>
      </form>
      <FormError error={error} />
    </Card>
  );
}

function TenantCard(props: { tenant: Tenant; root: boolean; users: User[]; onChange: () => void }) {
  const t = props.tenant;
  const members = useAsync(() => get<TenantMember[]>(`/api/v1/tenants/${t.id}/users`), [t.id]);
  const [adding, setAdding] = useState("");
  const [error, setError] = useState<string | null>(null);
  const memberIds = new Set((members.data ?? []).map((m) => m.id));
  const candidates = props.users.filter((u) => !memberIds.has(u.id));
  return (
    <Card
      title={`${t.name} (#${t.id})`}
      actions={
        props.root && (
          <ConfirmButton
            label="Delete"
            ariaLabel={`Delete tenant ${t.name}`}
            title={`Delete tenant "${t.name}"?`}
            message={<p>The manager refuses while the tenant still owns clusters, jobs or tokens.</p>}
            onConfirm={async () => {
              await call("DELETE", `/api/v1/tenants/${t.id}`);
              toast(`Deleted tenant "${t.name}"`);
              props.onChange();
            }}
          />
        )
      }
    >
      {t.bio && <p>{t.bio}</p>}
      <p class="muted small">
        Created <Time value={t.created_at} />
      </p>
      <h3>Members</h3>
      {members.error ? (
        <ErrorState error={members.error} retry={members.reload} />
      ) : !members.data ? (
        <Loading />
      ) : members.data.length === 0 ? (
        <p class="muted">No members.</p>
      ) : (
        <ul class="chips" aria-label={`Members of ${t.name}`}>
          {members.data.map((m) => (
            <li key={m.id}>
              {m.name}
              {props.root && (
                <button
                  type="button"
                  class="chip-remove"
                  aria-label={`Remove ${m.name} from ${t.name}`}
                  onClick={async () => {
                    try {
                      await call("DELETE", `/api/v1/tenants/${t.id}/users/${m.id}`);
                      toast(`Removed ${m.name} from ${t.name}`);
                      members.reload();
                    } catch (e) {
                      toast(messageOf(e), "bad");
                    }
                  }}
                >
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {props.root && candidates.length > 0 && (
        <form
          class="filters"
          onSubmit={async (e) => {
            e.preventDefault();
            if (!adding) return;
            setError(null);
            try {
              await call("PUT", `/api/v1/tenants/${t.id}/users/${adding}`);
              toast(`Added a member to ${t.name}`);
              setAdding("");
              members.reload();
            } catch (err) {
              setError(messageOf(err));
            }
          }}
        >
          <label>
            Add a user
            <select name="member" value={adding} onChange={(e) => setAdding(e.currentTarget.value)}>
              <option value="">Choose…</option>
              {candidates.map((u) => (
                <option key={u.id} value={String(u.id)}>
                  {u.name} ({u.email})
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="button" disabled={!adding}>
            Add
          </button>
        </form>
      )}
      <FormError error={error} />
    </Card>
  );
}
