import type { ConfigValue } from '@sipp/shared';
import { useConfig, useRoutes } from '../api/hooks';
import { GroupsTable } from '../components/Circuit';
import { QueryView } from '../components/States';

type Obj = { [key: string]: ConfigValue };
const isObj = (v: ConfigValue | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: ConfigValue | undefined): string =>
  v === undefined || v === null
    ? '—'
    : Array.isArray(v)
      ? v.length
        ? v.map(text).join(', ')
        : 'none'
      : typeof v === 'object'
        ? JSON.stringify(v)
        : String(v);

/** Nested settings as a definition list. */
function Settings({ value, testId }: { value: Obj; testId?: string }) {
  return (
    <dl className="kv" data-testid={testId}>
      {Object.entries(value).map(([k, v]) => (
        <div key={k}>
          <dt className="mono">{k}</dt>
          <dd className="mono">{isObj(v) ? <Settings value={v} /> : text(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

const SHOWN = new Set([
  'public_bind',
  'management_bind',
  'routes',
  'max_request_bytes',
  'max_concurrent_requests',
  'allowed_origins',
  'tokens',
  'targets',
  'security',
  'admin_password_env',
]);

function RoutesTable() {
  const routes = useRoutes();
  return (
    <QueryView query={routes}>
      {(data) => (
        <div className="table-wrap">
          <table data-testid="routes-table">
            <caption>Routes of both listeners</caption>
            <thead>
              <tr>
                <th scope="col">Listener</th>
                <th scope="col">Name</th>
                <th scope="col">Path</th>
                <th scope="col">Methods</th>
              </tr>
            </thead>
            <tbody>
              {data.routes.map((r) => (
                <tr key={`${r.listener}-${r.name}`}>
                  <td>
                    <span className={`pill ${r.listener === 'public' ? 'pill-a' : ''}`}>{r.listener}</span>
                  </td>
                  <th scope="row">{r.name}</th>
                  <td className="mono">{r.path}</td>
                  <td>{r.methods.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </QueryView>
  );
}

function Groups() {
  const routes = useRoutes();
  return <QueryView query={routes}>{(data) => <GroupsTable groups={data.groups ?? []} />}</QueryView>;
}

export function Config() {
  const config = useConfig();
  return (
    <section aria-labelledby="config-h">
      <h1 id="config-h">Configuration</h1>
      <p className="muted">
        The effective configuration, read-only. Secrets never leave the gateway: tokens and keys appear by the name of the
        environment variable that holds them.
      </p>
      <QueryView query={config}>
        {(data) => {
          const c = data.config;
          const other = Object.fromEntries(Object.entries(c).filter(([k]) => !SHOWN.has(k)));
          const management = typeof c.management_bind === 'string' ? c.management_bind : '';
          return (
            <>
              <div className="card">
                <h2>Gateway</h2>
                <dl className="kv">
                  <div>
                    <dt>Version</dt>
                    <dd data-testid="config-version">{data.version}</dd>
                  </div>
                  <div>
                    <dt>Public listener</dt>
                    <dd className="mono">{text(c.public_bind)}</dd>
                  </div>
                  <div>
                    <dt>Management listener</dt>
                    <dd className="mono">{management}</dd>
                  </div>
                  <div>
                    <dt>Metrics</dt>
                    <dd>
                      <a href={data.metricsPath} data-testid="metrics-link">
                        {data.metricsPath}
                      </a>{' '}
                      <span className="muted small">(Prometheus, on the management listener)</span>
                    </dd>
                  </div>
                  <div>
                    <dt>Admin password</dt>
                    <dd className="mono">env {text(c.admin_password_env)}</dd>
                  </div>
                </dl>
              </div>
              <div className="grid-2">
                <div className="card">
                  <h2>Limits and timeouts</h2>
                  <dl className="kv">
                    <div>
                      <dt>Max request bytes</dt>
                      <dd>{text(c.max_request_bytes)}</dd>
                    </div>
                    <div>
                      <dt>Max concurrent requests</dt>
                      <dd>
                        {c.max_concurrent_requests === null || c.max_concurrent_requests === undefined
                          ? 'unbounded'
                          : text(c.max_concurrent_requests)}
                      </dd>
                    </div>
                    <div>
                      <dt>CORS origins</dt>
                      <dd className="mono">
                        {Array.isArray(c.allowed_origins) && c.allowed_origins.length
                          ? text(c.allowed_origins)
                          : 'none (browsers refused)'}
                      </dd>
                    </div>
                  </dl>
                  <p className="muted small">Per-target timeouts are listed with the targets below.</p>
                </div>
                <div className="card">
                  <h2>Security</h2>
                  {isObj(c.security) ? <Settings value={c.security} testId="config-security" /> : null}
                </div>
              </div>
              <h2>Routes</h2>
              <RoutesTable />
              <h2>Groups</h2>
              <Groups />
              <h2>Tokens</h2>
              <div className="table-wrap">
                <table data-testid="config-tokens">
                  <caption>Bearer tokens by caller label and the environment variable holding each (never the value)</caption>
                  <thead>
                    <tr>
                      <th scope="col">Caller</th>
                      <th scope="col">Env var</th>
                      <th scope="col">Allowed targets</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(Array.isArray(c.tokens) ? c.tokens : []).filter(isObj).map((t) => (
                      <tr key={text(t.caller)}>
                        <th scope="row">{text(t.caller)}</th>
                        <td className="mono">{text(t.env)}</td>
                        <td>
                          {Array.isArray(t.targets) && t.targets.length ? (
                            text(t.targets)
                          ) : (
                            <span className="muted">all targets</span>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <h2>Targets</h2>
              <div className="cards" data-testid="config-targets">
                {(Array.isArray(c.targets) ? c.targets : []).filter(isObj).map((t) => (
                  <div className="card" key={text(t.name)}>
                    <h3 className="target-name">{text(t.name)}</h3>
                    <Settings value={t} />
                  </div>
                ))}
              </div>
              {Object.keys(other).length > 0 && (
                <>
                  <h2>Other settings</h2>
                  <div className="card">
                    <Settings value={other} testId="config-other" />
                  </div>
                </>
              )}
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
