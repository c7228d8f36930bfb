/** The signed-in user's profile and password. A password change ends every session, this one included. */
import { useState } from "preact/hooks";
import { call } from "../api.ts";
import { Card, Field, FormError, Page, messageOf, toast } from "../components/ui.tsx";
import { loadMe, me } from "../me.ts";
import { session } from "../session.ts";
import { signOut } from "../signout.ts";
import { useSignal } from "../signal.ts";
import type { User } from "../types.ts";

/** The profile page. */
export function ProfilePage() {
  const who = useSignal(me);
  if (!who) return null;
  return (
    <Page title="Your profile" subtitle={`${who.user.name} · ${who.roles.join(", ") || "no role"}`}>
      <div class="grid-2">
        <ProfileForm user={who.user} />
        <PasswordForm userId={who.user.id} />
      </div>
    </Page>
  );
}

function ProfileForm(props: { user: User }) {
  const [form, setForm] = useState({ email: props.user.email, phone: props.user.phone, location: props.user.location, bio: props.user.bio });
  const [error, setError] = useState<string | null>(null);
  const set = (key: keyof typeof form) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value });
  return (
    <Card title="Details">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          try {
            await call("PATCH", `/api/v1/users/${props.user.id}`, { body: form });
            toast("Profile saved");
            const current = session.value;
            if (current) await loadMe(current);
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        <Field label="Email" required>
          {(id, d) => <input id={id} type="email" name="email" required value={form.email} aria-describedby={d} onInput={set("email")} />}
        </Field>
        <Field label="Phone">{(id, d) => <input id={id} type="tel" name="phone" value={form.phone} aria-describedby={d} onInput={set("phone")} />}</Field>
        <Field label="Location">{(id, d) => <input id={id} name="location" value={form.location} aria-describedby={d} onInput={set("location")} />}</Field>
        <Field label="About">{(id, d) => <textarea id={id} name="bio" rows={3} value={form.bio} aria-describedby={d} onInput={set("bio")} />}</Field>
        <FormError error={error} />
        <div class="form-actions">
          <button type="submit" class="button button-primary">
            Save
          </button>
        </div>
      </form>
    </Card>
  );
}

function PasswordForm(props: { userId: number }) {
  const [form, setForm] = useState({ old: "", next: "", confirm: "" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const short = form.next !== "" && form.next.length < 8 ? "At least 8 characters" : null;
  const mismatch = form.confirm !== "" && form.confirm !== form.next ? "The passwords differ" : null;
  const set = (key: keyof typeof form) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value });
  return (
    <Card title="Change password">
      <form
        class="form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (short || mismatch || !form.old || !form.next) return;
          setBusy(true);
          setError(null);
          try {
            await call("POST", `/api/v1/users/${props.userId}/reset_password`, { body: { old_password: form.old, new_password: form.next }, anonymous: true });
            await signOut("Your password was changed. Sign in with the new one.");
          } catch (err) {
            setError(messageOf(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <p class="hint">Changing it signs you out everywhere.</p>
        <Field label="Current password" required>
          {(id, d) => <input id={id} type="password" name="old_password" autoComplete="current-password" required value={form.old} aria-describedby={d} onInput={set("old")} />}
        </Field>
        <Field label="New password" required hint="8 characters or more" error={short}>
          {(id, d, invalid) => <input id={id} type="password" name="new_password" autoComplete="new-password" required minLength={8} value={form.next} aria-invalid={invalid} aria-describedby={d} onInput={set("next")} />}
        </Field>
        <Field label="Repeat the new password" required error={mismatch}>
          {(id, d, invalid) => <input id={id} type="password" name="confirm_password" autoComplete="new-password" required value={form.confirm} aria-invalid={invalid} aria-describedby={d} onInput={set("confirm")} />}
        </Field>
        <FormError error={error} />
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </Card>
  );
}
