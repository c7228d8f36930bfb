/** Shared building blocks: links, page frames, states (loading, empty, error), fields, dialogs, toasts. */
import type { AnchorHTMLAttributes, ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "../api.ts";
import { navigate } from "../router.ts";
import { signal, useSignal } from "../signal.ts";

/** An in-app link: plain clicks navigate without a reload, modified clicks open as the browser would. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { href, onClick, ...rest } = props;
  return (
    <a
      {...rest}
      href={href}
      onClick={(event) => {
        if (typeof onClick === "function") onClick(event);
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(href);
      }}
    />
  );
}

/** A page: its title (also the document's), optional actions on the right, then the content. */
export function Page(props: { title: string; subtitle?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; back?: { href: string; label: string } }) {
  useEffect(() => {
    document.title = `${props.title} · Libellula`;
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      {props.back && (
        <p class="back">
          <Link href={props.back.href}>← {props.back.label}</Link>
        </p>
      )}
      <header class="page-header">
        <div>
          <h1 id="page-title" tabIndex={-1}>
            {props.title}
          </h1>
          {props.subtitle && <p class="subtitle">{props.subtitle}</p>}
        </div>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

/** A panel with a heading. */
export function Card(props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; id?: string }) {
  const id = useId();
  return (
    <section class={`card ${props.class ?? ""}`} aria-labelledby={props.title ? id : undefined} id={props.id}>
      {(props.title || props.actions) && (
        <header class="card-header">
          {props.title && <h2 id={id}>{props.title}</h2>}
          {props.actions && <div class="actions">{props.actions}</div>}
        </header>
      )}
      {props.children}
    </section>
  );
}

/** Shown while the first answer is on its way. */
export function Loading(props: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {props.label ?? "Loading…"}
    </p>
  );
}

/** A failed load: what went wrong and a way to try again. */
export function ErrorState(props: { error: Error; retry?: () => void; title?: string }) {
  const status = props.error instanceof ApiError ? props.error.status : undefined;
  const title =
    props.title ??
    (status === 403 ? "You do not have permission to see this" : status === 404 ? "Not found" : status === 0 ? "The manager cannot be reached" : "Something went wrong");
  return (
    <div class="state state-error" role="alert">
      <strong>{title}</strong>
      <p>{props.error.message}</p>
      {props.retry && status !== 403 && status !== 404 && (
        <button type="button" class="button" onClick={props.retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Nothing to show yet: what this is and what to do next. */
export function Empty(props: { title: string; children?: ComponentChildren; action?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <strong>{props.title}</strong>
      {props.children && <div class="hint">{props.children}</div>}
      {props.action}
    </div>
  );
}

/** A coloured state label (active, inactive, PENDING, SUCCESS, FAILURE, …). */
export function Badge(props: { value: string; title?: string }) {
  const tone = /^(active|success|enable|succeeded|finished)$/i.test(props.value)
    ? "ok"
    : /^(failure|failed|disable|error)$/i.test(props.value)
      ? "bad"
      : /^(pending|running|received|started)$/i.test(props.value)
        ? "busy"
        : "muted";
  return (
    <span class={`badge badge-${tone}`} title={props.title}>
      {tone === "busy" && <span class="pulse" aria-hidden="true" />}
      {props.value}
    </span>
  );
}

/** A labelled form field; the hint and error are tied to the control for screen readers. */
export function Field(props: { label: string; hint?: ComponentChildren; error?: string | null; children: (id: string, describedBy: string | undefined, invalid: boolean) => ComponentChildren; required?: boolean; class?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [props.hint ? hintId : "", props.error ? errorId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field ${props.error ? "field-invalid" : ""} ${props.class ?? ""}`}>
      <label for={id}>
        {props.label}
        {props.required && <span aria-hidden="true" class="required"> *</span>}
      </label>
      {props.children(id, describedBy, Boolean(props.error))}
      {props.hint && (
        <small id={hintId} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <small id={errorId} class="error-text" role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** A form's failure, announced. */
export function FormError(props: { error: string | null | undefined }) {
  if (!props.error) return null;
  return (
    <p class="form-error" role="alert">
      {props.error}
    </p>
  );
}

/** Previous and next page buttons with the position. */
export function Pagination(props: { page: number; lastPage: number; onPage: (page: number) => void; label?: string }) {
  if (props.lastPage <= 1 && props.page <= 1) return null;
  return (
    <nav class="pagination" aria-label={props.label ?? "Pages"}>
      <button type="button" class="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        ← Previous
      </button>
      <span aria-live="polite">
        Page {props.page} of {Math.max(props.lastPage, props.page)}
      </span>
      <button type="button" class="button" disabled={props.page >= props.lastPage} onClick={() => props.onPage(props.page + 1)}>
        Next →
      </button>
    </nav>
  );
}

/** A time shown as "3 min ago" with the exact time on hover and for screen readers. */
export function Time(props: { value: string | null | undefined; fallback?: string }) {
  if (!props.value) return <span class="muted">{props.fallback ?? "never"}</span>;
  const date = new Date(props.value);
  if (Number.isNaN(date.getTime())) return <span>{props.value}</span>;
  return (
    <time dateTime={date.toISOString()} title={date.toLocaleString()}>
      {relativeTime(date)}
    </time>
  );
}

/** "in 5 min", "3 h ago", … */
export function relativeTime(date: Date, now = Date.now()): string {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] =
    abs < 45 ? [seconds, "second"] : abs < 2700 ? [Math.round(seconds / 60), "minute"] : abs < 64800 ? [Math.round(seconds / 3600), "hour"] : [Math.round(seconds / 86400), "day"];
  return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(value, unit as Intl.RelativeTimeFormatUnit);
}

/** Copies text to the clipboard and says so. */
export function CopyButton(props: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="button"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(props.text);
        } catch {
          // Clipboard API refused (insecure origin): fall back to a selection copy.
          const area = document.createElement("textarea");
          area.value = props.text;
          document.body.append(area);
          area.select();
          document.execCommand("copy");
          area.remove();
        }
        setCopied(true);
        setTimeout(() => setCopied(false), 2000);
      }}
    >
      <span aria-live="polite">{copied ? "Copied" : (props.label ?? "Copy")}</span>
    </button>
  );
}

/** A modal dialog on the native <dialog> element (focus trapped, Escape closes). */
export function Dialog(props: { open: boolean; title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onClose} onCancel={props.onClose}>
      <h2 id={titleId}>{props.title}</h2>
      {props.open && props.children}
    </dialog>
  );
}

/** Asks before a destructive action; shows the manager's refusal if it comes. */
export function ConfirmButton(props: { label: string; title: string; message: ComponentChildren; confirm?: string; onConfirm: () => Promise<void>; class?: string; ariaLabel?: string }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button type="button" class={props.class ?? "button button-danger"} aria-label={props.ariaLabel} onClick={() => (setError(null), setOpen(true))}>
        {props.label}
      </button>
      <Dialog open={open} title={props.title} onClose={() => setOpen(false)}>
        <div class="dialog-body">{props.message}</div>
        <FormError error={error} />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <button
            type="button"
            class="button button-danger"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              setError(null);
              try {
                await props.onConfirm();
                setOpen(false);
              } catch (e) {
                setError(e instanceof Error ? e.message : String(e));
              } finally {
                setBusy(false);
              }
            }}
          >
            {props.confirm ?? props.label}
          </button>
        </div>
      </Dialog>
    </>
  );
}

/** A short message in the corner, announced to screen readers. */
interface Toast {
  id: number;
  text: string;
  tone: "ok" | "bad";
}
const toasts = signal<Toast[]>([]);
let toastId = 0;

/** Shows a toast for a few seconds. */
export function toast(text: string, tone: "ok" | "bad" = "ok"): void {
  const id = ++toastId;
  toasts.value = [...toasts.value, { id, text, tone }];
  setTimeout(() => (toasts.value = toasts.value.filter((t) => t.id !== id)), 5000);
}

/** Where toasts appear. */
export function Toasts() {
  const list = useSignal(toasts);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.tone}`}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

/** Pretty JSON in a collapsible block. */
export function JsonDetails(props: { summary: string; value: unknown }) {
  return (
    <details class="json">
      <summary>{props.summary}</summary>
      <pre>{JSON.stringify(props.value, null, 2)}</pre>
    </details>
  );
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
