import { useIsFetching } from '@tanstack/react-query';
import type { SessionInfo } from '@sipp/shared';
import { useLogout, useSession } from './api/hooks';
import { ErrorState, Loading } from './components/States';
import { VIEWS, hrefOf, useView, type ViewId } from './router';
import { Login } from './views/Login';
import { Overview } from './views/Overview';
import { Replicas } from './views/Replicas';
import { Routes } from './views/Routes';
import { Security } from './views/Security';
import { Targets } from './views/Targets';
import { Traffic } from './views/Traffic';

const PAGES: Record<ViewId, () => React.JSX.Element> = { overview: Overview, traffic: Traffic, security: Security, targets: Targets, routes: Routes, replicas: Replicas };

function Shell({ session }: { session: SessionInfo }) {
  const [view, go] = useView();
  const logout = useLogout();
  const fetching = useIsFetching() > 0;
  const Page = PAGES[view];
  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            S
          </span>
          <span className="brand-name">Sipp Gateway</span>
        </div>
        <nav aria-label="Views">
          {VIEWS.map((v) => (
            <a
              key={v.id}
              href={hrefOf(v.id)}
              aria-current={view === v.id ? 'page' : undefined}
              onClick={(e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                go(v.id);
              }}
            >
              {v.label}
            </a>
          ))}
        </nav>
        <div className="topbar-right">
          <span className={`live${fetching ? ' live-busy' : ''}`} title={`Auto-refresh · session until ${new Date(session.expiresAt).toLocaleTimeString()}`}>
            Live
          </span>
          <button type="button" className="btn btn-ghost btn-small" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Sign out
          </button>
        </div>
      </header>
      <main className="content">
        <Page />
      </main>
    </div>
  );
}

export function App() {
  const session = useSession();
  if (session.isPending) return <Loading label="Connecting…" />;
  if (session.error) return <ErrorState error={session.error} retry={() => void session.refetch()} />;
  if (!session.data) return <Login />;
  return <Shell session={session.data} />;
}
