import { useRoutes } from '../api/hooks';
import { GroupsTable } from '../components/Circuit';
import { QueryView } from '../components/States';

export function Routes() {
  const routes = useRoutes();
  return (
    <section aria-labelledby="routes-h">
      <h1 id="routes-h">Routes</h1>
      <QueryView query={routes}>
        {(data) => (
          <>
            <p className="muted">
              Public listener <span className="mono">{data.publicBind}</span> · management listener <span className="mono">{data.managementBind}</span>
            </p>
            <div className="table-wrap">
              <table data-testid="routes-table">
                <thead>
                  <tr>
                    <th>Listener</th>
                    <th>Name</th>
                    <th>Path</th>
                    <th>Methods</th>
                  </tr>
                </thead>
                <tbody>
                  {data.routes.map((r) => (
                    <tr key={`${r.listener}-${r.name}`}>
                      <td>
                        <span className={`pill ${r.listener === 'public' ? 'pill-a' : ''}`}>{r.listener}</span>
                      </td>
                      <td>{r.name}</td>
                      <td className="mono">{r.path}</td>
                      <td>{r.methods.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <h2>Groups</h2>
            <GroupsTable groups={data.groups ?? []} />
            <h2>Callers</h2>
            <p className="muted small">Bearer tokens are identified by their configured label only.</p>
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Caller</th>
                    <th>Allowed targets</th>
                  </tr>
                </thead>
                <tbody>
                  {data.callers.map((c) => (
                    <tr key={c.caller}>
                      <td>{c.caller}</td>
                      <td>{c.targets === null ? <span className="muted">all targets</span> : c.targets.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </QueryView>
    </section>
  );
}
