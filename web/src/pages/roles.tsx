/** Roles and permissions: each role's grants as a matrix of API groups × read or write; custom roles can be created and edited. */
import { useState } from "preact/hooks";
import { call, get } from "../api.ts";
import { Badge, Card, ConfirmButton, Empty, ErrorState, Field, FormError, Loading, Page, messageOf, toast } from "../components/ui.tsx";
import { useAsync } from "../hooks.ts";
import { can, me } from "../me.ts";
import { useSignal } from "../signal.ts";
import type { Permission, Role } from "../types.ts";

type Level = "none" | "read" | "*";

function levelOf(role: Role, object: string): Level {
  if (role.permissions.some((p) => p.object === object && p.action === "*")) return "*";
  if (role.permissions.some((p) => p.object === object && p.action === "read")) return "read";
  return "none";
}

/** The roles page. */
export function RolesPage() {
  const who = useSignal(me);
  const data = useAsync(async () => {
    const [roles, permissions] = await Promise.all([get<Role[]>("/api/v1/roles"), get<Permission[]>("/api/v1/permissions")]);
    const objects = [...new Set(permissions.map((p) => p.object))].sort();
    return { roles, objects };
  }, []);
  const writable = can(who, "roles", "*");
  if (data.error) return <Page title="Roles and permissions"><ErrorState error={data.error} retry={data.reload} /></Page>;
  if (!data.data) return <Page title="Roles and permissions"><Loading /></Page>;
  const { roles, objects } = data.data;
  return (
    <Page title="Roles and permissions" subtitle="A permission lets a role read an API group, or read and change it. Root may do everything in every tenant.">
      {writable && <NewRole objects={objects} onCreated={data.reload} />}
      {roles.length === 0 ? (
        <Empty title="No roles" />
      ) : (
        roles.map((role) => <RoleCard key={role.role} role={role} objects={objects} writable={writable && !role.builtin} onChange={data.reload} />)
      )}
    </Page>
  );
}

function RoleCard(props: { role: Role; objects: string[]; writable: boolean; onChange: () => void }) {
  const { role } = props;
  const [error, setError] = useState<string | null>(null);
  const change = async (object: string, next: Level) => {
    const current = levelOf(role, object);
    if (current === next) return;
    setError(null);
    try {
      const revoke = role.permissions.filter((p) => p.object === object);
      if (revoke.length > 0) await call("DELETE", `/api/v1/roles/${encodeURIComponent(role.role)}/permissions`, { body: { permissions: revoke } });
      if (next !== "none") await call("POST", `/api/v1/roles/${encodeURIComponent(role.role)}/permissions`, { body: { permissions: [{ object, action: next }] } });
      props.onChange();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return (
    <Card
      title={
        <>
          {role.role} {role.builtin && <Badge value="built in" />}
        </>
      }
      actions={
        props.writable && (
          <ConfirmButton
            label="Delete"
            ariaLabel={`Delete role ${role.role}`}
            title={`Delete role "${role.role}"?`}
            message={<p>Users holding it lose its permissions at once.</p>}
            onConfirm={async () => {
              await call("DELETE", `/api/v1/roles/${encodeURIComponent(role.role)}`);
              toast(`Deleted role "${role.role}"`);
              props.onChange();
            }}
          />
        )
      }
    >
      {role.role === "root" ? (
        <p>Every permission in every tenant.</p>
      ) : (
        <div class="table-wrap">
          <table class="matrix" aria-label={`Permissions of ${role.role}`}>
            <thead>
              <tr>
                <th scope="col">API group</th>
                <th scope="col">Access</th>
              </tr>
            </thead>
            <tbody>
              {props.objects.map((object) => (
                <tr key={object}>
                  <th scope="row">{object}</th>
                  <td>
                    {props.writable ? (
                      <select aria-label={`${role.role} access to ${object}`} value={levelOf(role, object)} onChange={(e) => void change(object, e.currentTarget.value as Level)}>
                        <option value="none">None</option>
                        <option value="read">Read</option>
                        <option value="*">Read and write</option>
                      </select>
                    ) : (
                      <span class={levelOf(role, object) === "none" ? "muted" : ""}>{{ none: "none", read: "read", "*": "read and write" }[levelOf(role, object)]}</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <FormError error={error} />
    </Card>
  );
}

function NewRole(props: { objects: string[]; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [levels, setLevels] = useState<Record<string, Level>>({});
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  if (!open)
    return (
      <p>
        <button type="button" class="button button-primary" onClick={() => setOpen(true)}>
          New role
        </button>
      </p>
    );
  return (
    <Card title="New role">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!name.trim()) {
            setError("A name is required");
            return;
          }
          setError(null);
          const permissions = Object.entries(levels)
            .filter(([, l]) => l !== "none")
            .map(([object, action]) => ({ object, action }));
          try {
            await call("POST", "/api/v1/roles", { body: { role: name.trim(), permissions } });
            toast(`Created role "${name.trim()}"`);
            setName("");
            setLevels({});
            setOpen(false);
            props.onCreated();
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        <Field label="Name" required>
          {(id, d) => <input id={id} name="role" value={name} maxLength={64} aria-describedby={d} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <div class="grid-3">
          {props.objects.map((object) => (
            <Field key={object} label={object}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={levels[object] ?? "none"} onChange={(e) => setLevels({ ...levels, [object]: e.currentTarget.value as Level })}>
                  <option value="none">None</option>
                  <option value="read">Read</option>
                  <option value="*">Read and write</option>
                </select>
              )}
            </Field>
          ))}
        </div>
        <FormError error={error} />
        <div class="form-actions">
          <button type="submit" class="button button-primary">
            Create role
          </button>
          <button type="button" class="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </div>
      </form>
    </Card>
  );
}
