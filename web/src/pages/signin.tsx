/** Sign-in and sign-up: the first screen of a new console; the first account becomes root. */
import { useState } from "preact/hooks";
import { ApiError, call } from "../api.ts";
import { Field, FormError, Link, messageOf } from "../components/ui.tsx";
import { current, navigate } from "../router.ts";
import { endReason, startSession } from "../session.ts";
import { useSignal } from "../signal.ts";

function Brand() {
  return (
    <div class="auth-brand">
      <img src="/favicon.svg" alt="" width={40} height={40} />
      <div>
        <strong>Libellula</strong>
        <span>Peer-to-peer distribution console</span>
      </div>
    </div>
  );
}

/** Signs in with name and password. */
export function SigninPage() {
  const reason = useSignal(endReason);
  const location = useSignal(current);
  const [name, setName] = useState(location.query.get("name") ?? "");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const created = location.query.get("created") === "1";
  document.title = "Sign in · Libellula";
  return (
    <div class="auth-card">
      <Brand />
      <h1 id="page-title">Sign in</h1>
      {reason && (
        <p class="notice" role="status">
          {reason}
        </p>
      )}
      {created && !reason && (
        <p class="notice notice-ok" role="status">
          Your account is ready. Sign in with it.
        </p>
      )}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const answer = await call<{ token: string; expire: string }>("POST", "/api/v1/users/signin", { body: { name: name.trim(), password }, anonymous: true });
            startSession(answer.token, answer.expire);
            navigate(location.query.get("next") ?? "/", { replace: true });
          } catch (e) {
            setError(e instanceof ApiError && e.status === 401 ? "Incorrect name or password" : messageOf(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field label="Name" required>
          {(id, described) => <input id={id} name="name" autoComplete="username" required value={name} aria-describedby={described} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <Field label="Password" required>
          {(id, described) => (
            <input id={id} name="password" type="password" autoComplete="current-password" required value={password} aria-describedby={described} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        <FormError error={error} />
        <button type="submit" class="button button-primary wide" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="auth-switch">
        New here? <Link href="/signup">Create an account</Link>. On a new manager the first account becomes the administrator (root).
      </p>
    </div>
  );
}

/** Creates an account. */
export function SignupPage() {
  const [form, setForm] = useState({ name: "", email: "", password: "", confirm: "" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mismatch = form.confirm !== "" && form.confirm !== form.password ? "The passwords differ" : null;
  const short = form.password !== "" && form.password.length < 8 ? "At least 8 characters" : null;
  const set = (key: keyof typeof form) => (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [key]: e.currentTarget.value });
  document.title = "Create an account · Libellula";
  return (
    <div class="auth-card">
      <Brand />
      <h1 id="page-title">Create an account</h1>
      <p class="subtitle">The first account on a new manager becomes root and can invite and manage everyone else.</p>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          if (mismatch || short) return;
          setBusy(true);
          setError(null);
          try {
            await call("POST", "/api/v1/users/signup", { body: { name: form.name.trim(), email: form.email.trim(), password: form.password }, anonymous: true });
            const answer = await call<{ token: string; expire: string }>("POST", "/api/v1/users/signin", { body: { name: form.name.trim(), password: form.password }, anonymous: true });
            startSession(answer.token, answer.expire);
            navigate("/", { replace: true });
          } catch (e) {
            setError(messageOf(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field label="Name" required hint="Used to sign in">
          {(id, described) => <input id={id} name="name" autoComplete="username" required maxLength={64} value={form.name} aria-describedby={described} onInput={set("name")} />}
        </Field>
        <Field label="Email" required>
          {(id, described) => <input id={id} name="email" type="email" autoComplete="email" required value={form.email} aria-describedby={described} onInput={set("email")} />}
        </Field>
        <Field label="Password" required error={short} hint="8 characters or more">
          {(id, described, invalid) => (
            <input id={id} name="password" type="password" autoComplete="new-password" required minLength={8} maxLength={128} value={form.password} aria-invalid={invalid} aria-describedby={described} onInput={set("password")} />
          )}
        </Field>
        <Field label="Repeat the password" required error={mismatch}>
          {(id, described, invalid) => (
            <input id={id} name="confirm" type="password" autoComplete="new-password" required value={form.confirm} aria-invalid={invalid} aria-describedby={described} onInput={set("confirm")} />
          )}
        </Field>
        <FormError error={error} />
        <button type="submit" class="button button-primary wide" disabled={busy}>
          {busy ? "Creating…" : "Create account"}
        </button>
      </form>
      <p class="auth-switch">
        Already have an account? <Link href="/signin">Sign in</Link>.
      </p>
    </div>
  );
}
