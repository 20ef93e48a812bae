import { useEffect, useState } from 'react';
import type { SessionInfo } from '@sipp/shared';
import { useLogout, useSession } from './api/hooks';
import { livenessTone, useLiveness } from './api/liveness';
import { ErrorState, Loading } from './components/States';
import { VIEWS, hrefOf, navigate, useView, type ViewId } from './router';
import { Callers } from './views/Callers';
import { Clients } from './views/Clients';
import { Keys } from './views/Keys';
import { Config } from './views/Config';
import { Login } from './views/Login';
import { Overview } from './views/Overview';
import { Replicas } from './views/Replicas';
import { Requests } from './views/Requests';
import { Security } from './views/Security';
import { Spend } from './views/Spend';
import { Targets } from './views/Targets';

const PAGES: Record<ViewId, () => React.JSX.Element> = {
  overview: Overview,
  requests: Requests,
  callers: Callers,
  targets: Targets,
  spend: Spend,
  clients: Clients,
  keys: Keys,
  security: Security,
  config: Config,
  replicas: Replicas,
};

const TONE_LABEL = { ok: 'Live', warn: 'Delayed', bad: 'Offline' } as const;

/** "Live · Updated 3 s ago", amber/red when refreshes fail or stall. */
function LiveIndicator() {
  const l = useLiveness();
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const tone = livenessTone(l, now);
  const age = l.lastOk === null ? null : Math.max(0, Math.round((now - l.lastOk) / 1000));
  return (
    <span className={`live live-${tone}`} data-testid="liveness" data-tone={tone} role="status" title={l.lastError ?? undefined}>
      <span className="live-dot" aria-hidden="true" />
      <strong>{TONE_LABEL[tone]}</strong>
      <span className="live-age">{age === null ? 'waiting for data' : `Updated ${age} s ago`}</span>
    </span>
  );
}

function Shell({ session }: { session: SessionInfo }) {
  const view = useView();
  const logout = useLogout();
  const Page = PAGES[view];
  const label = VIEWS.find((v) => v.id === view)!.label;
  useEffect(() => {
    document.title = `${label} · Sipp Gateway`;
  }, [label]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
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
                // Keep the selected window when moving between windowed views.
                const w = new URLSearchParams(window.location.search).get('window');
                navigate(v.id, ['overview', 'callers', 'targets'].includes(v.id) && w ? { window: w } : undefined);
              }}
            >
              {v.label}
            </a>
          ))}
        </nav>
        <div className="topbar-right">
          <LiveIndicator />
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => logout.mutate()}
            disabled={logout.isPending}
            title={`Session until ${new Date(session.expiresAt).toLocaleTimeString()}`}
          >
            Sign out
          </button>
        </div>
      </header>
      <main className="content" id="main" tabIndex={-1}>
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
