/** Users (root and user admins): list with filters, enable or disable, and each user's roles. */
import { useState } from "preact/hooks";
import { all, call, get, list } from "../api.ts";
import { Badge, Card, ConfirmButton, Empty, ErrorState, Link, Loading, Page, Pagination, Time, messageOf, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { can, me } from "../me.ts";
import { current, setQuery } from "../router.ts";
import { useSignal } from "../signal.ts";
import type { Role, User } from "../types.ts";

const PER_PAGE = 15;

/** The user list. */
export function UsersPage() {
  const location = useSignal(current);
  const page = Number(location.query.get("page") ?? 1) || 1;
  const name = location.query.get("name") ?? "";
  const state = location.query.get("state") ?? "";
  const [draft, setDraft] = useState(name);
  const data = useAsync(() => list<User>("/api/v1/users", { page, per_page: PER_PAGE, name, state }), [page, name, state]);
  return (
    <Page title="Users" subtitle="Accounts that can sign in. New accounts join the default tenant with the guest role.">
      <form
        class="filters"
        role="search"
        aria-label="Filter users"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ name: draft.trim(), page: undefined });
        }}
      >
        <label>
          Name
          <input type="search" name="name" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        </label>
        <label>
          State
          <select name="state" value={state} onChange={(e) => setQuery({ state: e.currentTarget.value, page: undefined })}>
            <option value="">Any</option>
            <option value="enable">Enabled</option>
            <option value="disable">Disabled</option>
          </select>
        </label>
        <button class="button" type="submit">
          Search
        </button>
      </form>
      {data.error ? (
        <ErrorState error={data.error} retry={data.reload} />
      ) : !data.data ? (
        <Loading />
      ) : data.data.items.length === 0 ? (
        <Empty title="No user matches" />
      ) : (
        <div class="table-wrap">
          <table aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.data.items.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link href={`/users/${u.id}`}>{u.name}</Link>
                  </td>
                  <td>{u.email}</td>
                  <td>
                    <Badge value={u.state} />
                  </td>
                  <td>
                    <Time value={u.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.data && <Pagination page={page} lastPage={data.data.lastPage} onPage={(p) => setQuery({ page: p })} label="User pages" />}
    </Page>
  );
}

/** One user: profile, state and roles. */
export function UserDetailPage(props: { id: number }) {
  const who = useSignal(me);
  const data = useAsync(async () => {
    const [user, roles, allRoles] = await Promise.all([
      get<User>(`/api/v1/users/${props.id}`),
      get<string[]>(`/api/v1/users/${props.id}/roles`),
      all<Role>("/api/v1/roles").catch(() => [] as Role[]),
    ]);
    return { user, roles, allRoles };
  }, [props.id]);
  const [role, setRole] = useState("");
  const [error, setError] = useState<string | null>(null);
  if (data.error) return <Page title="User" back={{ href: "/users", label: "Users" }}><ErrorState error={data.error} retry={data.reload} /></Page>;
  if (!data.data) return <Page title="User" back={{ href: "/users", label: "Users" }}><Loading /></Page>;
  const { user, roles, allRoles } = data.data;
  const writable = can(who, "users", "*");
  const grantable = allRoles.filter((r) => !roles.includes(r.role) && (r.role !== "root" || who?.root));
  const self = who?.user.id === user.id;
  return (
    <Page title={user.name} subtitle={user.email} back={{ href: "/users", label: "Users" }}>
      <div class="grid-2">
        <Card title="Account">
          <dl class="facts">
            <div>
              <dt>State</dt>
              <dd>
                <Badge value={user.state} />
              </dd>
            </div>
            <div>
              <dt>Phone</dt>
              <dd>{user.phone || <span class="muted">—</span>}</dd>
            </div>
            <div>
              <dt>Location</dt>
              <dd>{user.location || <span class="muted">—</span>}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>
                <Time value={user.created_at} />
              </dd>
            </div>
          </dl>
          {who?.root && !self && (
            <ConfirmButton
              class={user.state === "enable" ? "button button-danger" : "button"}
              label={user.state === "enable" ? "Disable account" : "Enable account"}
              title={user.state === "enable" ? `Disable ${user.name}?` : `Enable ${user.name}?`}
              message={<p>{user.state === "enable" ? "Their sessions end at once and they cannot sign in until enabled again." : "They can sign in again."}</p>}
              confirm={user.state === "enable" ? "Disable" : "Enable"}
              onConfirm={async () => {
                await call("PATCH", `/api/v1/users/${user.id}`, { body: { state: user.state === "enable" ? "disable" : "enable" } });
                data.reload();
              }}
            />
          )}
        </Card>
        <Card title="Roles">
          {roles.length === 0 ? (
            <p class="muted">No role: this user can do nothing but manage their own profile.</p>
          ) : (
            <ul class="chips" aria-label="Roles">
              {roles.map((r) => (
                <li key={r}>
                  {r}
                  {writable && !(self && r === "root") && (
                    <button
                      type="button"
                      class="chip-remove"
                      aria-label={`Revoke role ${r}`}
                      onClick={async () => {
                        try {
                          await call("DELETE", `/api/v1/users/${user.id}/roles/${encodeURIComponent(r)}`);
                          toast(`Revoked ${r} from ${user.name}`);
                          data.reload();
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
          {writable && grantable.length > 0 && (
            <form
              class="filters"
              onSubmit={async (e) => {
                e.preventDefault();
                if (!role) return;
                setError(null);
                try {
                  await call("PUT", `/api/v1/users/${user.id}/roles/${encodeURIComponent(role)}`);
                  toast(`Granted ${role} to ${user.name}`);
                  setRole("");
                  data.reload();
                } catch (err) {
                  setError(messageOf(err));
                }
              }}
            >
              <label>
                Grant a role
                <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                  <option value="">Choose…</option>
                  {grantable.map((r) => (
                    <option key={r.role} value={r.role}>
                      {r.role}
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit" class="button" disabled={!role}>
                Grant
              </button>
            </form>
          )}
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
        </Card>
      </div>
    </Page>
  );
}
