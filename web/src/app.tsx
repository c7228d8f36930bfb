/** The console's shell: sign-in gate, session upkeep, navigation and routes. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "./api.ts";
import { ErrorState, Link, Loading, Toasts } from "./components/ui.tsx";
import { can, loadMe, me, type Me } from "./me.ts";
import { ClusterDetailPage } from "./pages/cluster-detail.tsx";
import { ClusterFormPage } from "./pages/cluster-form.tsx";
import { ClustersPage } from "./pages/clusters.tsx";
import { DashboardPage } from "./pages/dashboard.tsx";
import { JobDetailPage } from "./pages/job-detail.tsx";
import { JobsPage } from "./pages/jobs.tsx";
import { PeersPage } from "./pages/peers.tsx";
import { PreheatPage } from "./pages/preheat.tsx";
import { ProfilePage } from "./pages/profile.tsx";
import { RolesPage } from "./pages/roles.tsx";
import { SigninPage, SignupPage } from "./pages/signin.tsx";
import { TasksPage } from "./pages/tasks.tsx";
import { TenantsPage } from "./pages/tenants.tsx";
import { TokensPage } from "./pages/tokens.tsx";
import { UserDetailPage, UsersPage } from "./pages/users.tsx";
import { current, match, navigate } from "./router.ts";
import { signOut } from "./signout.ts";
import { endSession, refreshDueIn, session, startSession, type Session } from "./session.ts";
import { useSignal } from "./signal.ts";

/** Routes of a signed-in user, first match wins. */
const ROUTES: [string, (params: Record<string, string>) => ComponentChildren][] = [
  ["/", () => <DashboardPage />],
  ["/clusters", () => <ClustersPage />],
  ["/clusters/new", () => <ClusterFormPage />],
  ["/clusters/:id", (p) => <ClusterDetailPage id={Number(p.id)} />],
  ["/clusters/:id/edit", (p) => <ClusterFormPage id={Number(p.id)} />],
  ["/peers", () => <PeersPage />],
  ["/jobs", () => <JobsPage />],
  ["/jobs/preheat", () => <PreheatPage />],
  ["/jobs/:id", (p) => <JobDetailPage id={Number(p.id)} />],
  ["/tasks", () => <TasksPage />],
  ["/users", () => <UsersPage />],
  ["/users/:id", (p) => <UserDetailPage id={Number(p.id)} />],
  ["/roles", () => <RolesPage />],
  ["/tenants", () => <TenantsPage />],
  ["/tokens", () => <TokensPage />],
  ["/profile", () => <ProfilePage />],
];

/** Navigation groups: label, path, the API group that must be readable. */
const NAV: { heading: string; items: [string, string, string | null][] }[] = [
  { heading: "Overview", items: [["Dashboard", "/", null]] },
  {
    heading: "Clusters",
    items: [
      ["Clusters", "/clusters", "clusters"],
      ["Peers", "/peers", "peers"],
    ],
  },
  {
    heading: "Jobs",
    items: [
      ["Preheat", "/jobs/preheat", "jobs"],
      ["Tasks", "/tasks", "jobs"],
      ["History", "/jobs", "jobs"],
    ],
  },
  {
    heading: "Access",
    items: [
      ["Users", "/users", "users"],
      ["Roles", "/roles", "roles"],
      ["Tenants", "/tenants", null],
      ["Access tokens", "/tokens", "personal-access-tokens"],
    ],
  },
];

/** The whole console. */
export function App() {
  const currentSession = useSignal(session);
  const location = useSignal(current);
  const publicPage = location.path === "/signin" || location.path === "/signup";

  // Signed out on a private page: go to sign-in, remembering where to come back.
  useEffect(() => {
    if (!currentSession && !publicPage) {
      const next = location.path === "/" ? "" : `?next=${encodeURIComponent(location.path + (location.query.size ? `?${location.query}` : ""))}`;
      navigate(`/signin${next}`, { replace: true });
    }
    if (currentSession && publicPage) navigate(location.query.get("next") ?? "/", { replace: true });
  }, [currentSession, publicPage]);

  if (!currentSession || publicPage) {
    return (
      <>
        <main id="main" class="auth-main">
          {location.path === "/signup" ? <SignupPage /> : <SigninPage />}
        </main>
        <Toasts />
      </>
    );
  }
  return <SignedIn session={currentSession} path={location.path} />;
}

function SignedIn(props: { session: Session; path: string }) {
  const who = useSignal(me);
  const [error, setError] = useState<Error | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  useSessionUpkeep(props.session);

  useEffect(() => {
    if (who && who.user.id === props.session.userId) return;
    me.value = null;
    setError(null);
    loadMe(props.session).catch((e: unknown) => setError(e instanceof Error ? e : new Error(String(e))));
  }, [props.session.userId]);

  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  const firstPath = useRef(true);
  useEffect(() => {
    setMenuOpen(false);
    if (firstPath.current) {
      firstPath.current = false;
      return;
    }
    requestAnimationFrame(() => document.getElementById("page-title")?.focus());
  }, [props.path]);

  let content: ComponentChildren = null;
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, props.path);
    if (params) {
      content = render(params);
      break;
    }
  }
  content ??= (
    <div class="state state-empty">
      <h1 id="page-title" tabIndex={-1}>
        Page not found
      </h1>
      <p>
        Nothing lives at <code>{props.path}</code>. <Link href="/">Go to the dashboard</Link>.
      </p>
    </div>
  );

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="sidebar" onClick={() => setMenuOpen(!menuOpen)}>
          <span aria-hidden="true">☰</span>
          <span class="visually-hidden">Menu</span>
        </button>
        <Link href="/" class="brand">
          <img src="/favicon.svg" alt="" width={24} height={24} /> Libellula
        </Link>
        <div class="topbar-user">{who && <UserMenu who={who} />}</div>
      </header>
      <nav id="sidebar" class={`sidebar ${menuOpen ? "open" : ""}`} aria-label="Main">
        {NAV.map((group) => (
          <div class="nav-group" key={group.heading}>
            <h2>{group.heading}</h2>
            <ul>
              {group.items
                .filter(([, , object]) => !object || !who || can(who, object))
                .map(([label, href]) => (
                  <li key={href}>
                    <Link href={href} aria-current={isCurrent(href, props.path) ? "page" : undefined}>
                      {label}
                    </Link>
                  </li>
                ))}
            </ul>
          </div>
        ))}
      </nav>
      <main id="main" class="content">
        {error ? <ErrorState error={error} retry={() => location.reload()} /> : who ? content : <Loading label="Loading your account…" />}
      </main>
      <Toasts />
    </div>
  );
}

function isCurrent(href: string, path: string): boolean {
  if (href === "/") return path === "/";
  if (href === "/jobs") return path === "/jobs" || /^\/jobs\/\d+$/.test(path);
  return path === href || path.startsWith(`${href}/`);
}

function UserMenu(props: { who: Me }) {
  const tenants = props.who.root ? "all tenants" : props.who.tenants.map((t) => t.name).join(", ") || "no tenant";
  return (
    <>
      <span class="who">
        <Link href="/profile" aria-label={`Your profile: ${props.who.user.name}`}>
          {props.who.user.name}
        </Link>
        <small>
          {props.who.roles.join(", ") || "no role"} · {tenants}
        </small>
      </span>
      <button type="button" class="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </>
  );
}

/** Refreshes the token ahead of its expiry; ends the session when the manager refuses. */
function useSessionUpkeep(current: Session): void {
  useEffect(() => {
    let cancelled = false;
    const refresh = async () => {
      try {
        const fresh = await call<{ token: string; expire: string }>("POST", "/api/v1/users/refresh_token");
        if (!cancelled && session.value === current) startSession(fresh.token, fresh.expire);
      } catch (error) {
        if (cancelled || session.value !== current) return;
        if (error instanceof ApiError && error.status === 401) {
          me.value = null;
          endSession("Your session has expired. Sign in again.");
        }
      }
    };
    const due = refreshDueIn(current);
    // Timers cap at about 24.8 days; a later due date is re-checked when the effect reruns.
    const timer = setTimeout(refresh, Math.min(Math.max(due, 0), 2 ** 31 - 1));
    const expiry = setTimeout(
      () => {
        if (session.value === current) {
          me.value = null;
          endSession("Your session has expired. Sign in again.");
        }
      },
      Math.min(Math.max(Date.parse(current.expire) - Date.now(), 0), 2 ** 31 - 1),
    );
    return () => {
      cancelled = true;
      clearTimeout(timer);
      clearTimeout(expiry);
    };
  }, [current]);
}
