/** Personal access tokens: create (the token is shown once, with a copy button), revoke, reactivate and delete. */
import { useState } from "preact/hooks";
import { call, list } from "../api.ts";
import { Badge, Card, ConfirmButton, CopyButton, Empty, ErrorState, Field, FormError, Loading, Page, Pagination, Time, messageOf, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { PersonalAccessToken } from "../types.ts";

const PER_PAGE = 15;
const SCOPES: [string, string][] = [
  ["job", "Jobs: create and read preheats and task jobs (/oapi/v1/jobs)"],
  ["cluster", "Clusters: manage clusters (/oapi/v1/clusters)"],
  ["rpc", "RPC: schedulers and peers register with the manager under this tenant"],
];
const EXPIRIES: [string, number][] = [
  ["7 days", 7],
  ["30 days", 30],
  ["90 days", 90],
  ["1 year", 365],
];

/** The tokens page. */
export function TokensPage() {
  const location = useSignal(current);
  const page = Number(location.query.get("page") ?? 1) || 1;
  const state = location.query.get("state") ?? "";
  const data = useAsync(() => list<PersonalAccessToken>("/api/v1/personal-access-tokens", { page, per_page: PER_PAGE, state }), [page, state]);
  const [created, setCreated] = useState<PersonalAccessToken | null>(null);
  return (
    <Page title="Access tokens" subtitle="Tokens let scripts, Harbor and schedulers call the manager as you, within one tenant and the scopes you pick.">
      {created?.token && (
        <Card title="Your new token" class="token-once">
          <p role="status">
            Copy <strong>{created.name}</strong> now: it is shown only once and the manager keeps only its hash.
          </p>
          <div class="token-box">
            <code data-testid="new-token">{created.token}</code>
            <CopyButton text={created.token} label="Copy token" />
          </div>
          <button type="button" class="button button-link" onClick={() => setCreated(null)}>
            I have copied it
          </button>
        </Card>
      )}
      <NewToken
        onCreated={(token) => {
          setCreated(token);
          data.reload();
        }}
      />
      <form class="filters" aria-label="Filter tokens" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select name="state" value={state} onChange={(e) => setQuery({ state: e.currentTarget.value, page: undefined })}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="inactive">Revoked</option>
          </select>
        </label>
      </form>
      {data.error ? (
        <ErrorState error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading />
      ) : data.data.items.length === 0 ? (
        <Empty title={state ? "No token in this state" : "No tokens yet"}>{!state && <p>Create one above for curl, Harbor or a scheduler.</p>}</Empty>
      ) : (
        <div class="table-wrap">
          <table aria-label="Tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Scopes</th>
                <th scope="col">State</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.data.items.map((t) => {
                const expired = Date.parse(t.expired_at) <= Date.now();
                return (
                  <tr key={t.id} data-testid="token-row">
                    <td>
                      {t.name}
                      {t.bio && <div class="muted small">{t.bio}</div>}
                    </td>
                    <td>
                      <code>{t.token_prefix}…</code>
                    </td>
                    <td>{t.scopes.join(", ")}</td>
                    <td>
                      <Badge value={expired ? "expired" : t.state === "inactive" ? "revoked" : t.state} />
                    </td>
                    <td>
                      <Time value={t.expired_at} />
                    </td>
                    <td>
                      <Time value={t.last_used_at} />
                    </td>
                    <td class="row-actions">
                      {t.state === "active" ? (
                        <ConfirmButton
                          label="Revoke"
                          ariaLabel={`Revoke ${t.name}`}
                          title={`Revoke "${t.name}"?`}
                          message={<p>Anything using it is refused from now on. You can reactivate it later.</p>}
                          onConfirm={async () => {
                            await call("PATCH", `/api/v1/personal-access-tokens/${t.id}`, { body: { state: "inactive" } });
                            toast(`Revoked "${t.name}"`);
                            data.reload();
                          }}
                        />
                      ) : (
                        <button
                          type="button"
                          class="button"
                          aria-label={`Reactivate ${t.name}`}
                          onClick={async () => {
                            try {
                              await call("PATCH", `/api/v1/personal-access-tokens/${t.id}`, { body: { state: "active" } });
                              data.reload();
                            } catch (e) {
                              toast(messageOf(e), "bad");
                            }
                          }}
                        >
                          Reactivate
                        </button>
                      )}
                      <ConfirmButton
                        label="Delete"
                        ariaLabel={`Delete ${t.name}`}
                        title={`Delete "${t.name}"?`}
                        message={<p>It stops working at once and cannot be brought back.</p>}
                        onConfirm={async () => {
                          await call("DELETE", `/api/v1/personal-access-tokens/${t.id}`);
                          toast(`Deleted "${t.name}"`);
                          data.reload();
                        }}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {data.data && <Pagination page={page} lastPage={data.data.lastPage} onPage={(p) => setQuery({ page: p })} label="Token pages" />}
    </Page>
  );
}

function NewToken(props: { onCreated: (token: PersonalAccessToken) => void }) {
  const [name, setName] = useState("");
  const [bio, setBio] = useState("");
  const [scopes, setScopes] = useState<string[]>(["job", "cluster"]);
  const [days, setDays] = useState(30);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Card title="New token">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!name.trim()) return setError("A name is required");
          if (scopes.length === 0) return setError("Pick at least one scope");
          setBusy(true);
          setError(null);
          try {
            const token = await call<PersonalAccessToken>("POST", "/api/v1/personal-access-tokens", {
              body: { name: name.trim(), bio, scopes, expired_at: new Date(Date.now() + days * 86400_000).toISOString() },
            });
            setName("");
            setBio("");
            props.onCreated(token);
          } catch (err) {
            setError(messageOf(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="grid-3">
          <Field label="Name" required>
            {(id, d) => <input id={id} name="token_name" value={name} maxLength={256} aria-describedby={d} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Description">
            {(id, d) => <input id={id} name="token_bio" value={bio} aria-describedby={d} onInput={(e) => setBio(e.currentTarget.value)} />}
          </Field>
          <Field label="Expires in">
            {(id, d) => (
              <select id={id} name="expiry" value={String(days)} aria-describedby={d} onChange={(e) => setDays(Number(e.currentTarget.value))}>
                {EXPIRIES.map(([label, n]) => (
                  <option key={n} value={String(n)}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <fieldset class="picker">
          <legend>Scopes</legend>
          <div class="checks">
            {SCOPES.map(([scope, label]) => (
              <label class="checkbox" key={scope}>
                <input type="checkbox" name="scope" value={scope} checked={scopes.includes(scope)} onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))} />
                {label}
              </label>
            ))}
          </div>
        </fieldset>
        <FormError error={error} />
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? "Creating…" : "Create token"}
          </button>
        </div>
      </form>
    </Card>
  );
}
