import { useBlock, useClients } from '../api/hooks';
import { Empty, QueryView } from '../components/States';
import { ago, clock, compact, ms, num, statusClass } from '../format';

export function Traffic() {
  const clients = useClients();
  const block = useBlock();
  return (
    <section aria-labelledby="traffic-h">
      <h1 id="traffic-h">Traffic</h1>
      <QueryView query={clients}>
        {(data) => (
          <>
            <h2>
              Top clients <span className="muted small">({num(data.trackedClients)} tracked)</span>
            </h2>
            {data.clients.length === 0 ? (
              <Empty>No public requests yet. Clients appear here after their first call.</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="clients-table">
                  <thead>
                    <tr>
                      <th>Client</th>
                      <th>Caller</th>
                      <th className="num">Requests</th>
                      <th className="num">Errors</th>
                      <th className="num">Rate-limited</th>
                      <th className="num">Blocked hits</th>
                      <th className="num">Tokens</th>
                      <th>Last seen</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {data.clients.map((c) => (
                      <tr key={c.client}>
                        <td className="mono">{c.client}</td>
                        <td>{c.caller ?? <span className="muted">unauthenticated</span>}</td>
                        <td className="num">{num(c.requests)}</td>
                        <td className="num">{num(c.errors)}</td>
                        <td className="num">{num(c.rateLimitHits)}</td>
                        <td className="num">{num(c.blocklistHits)}</td>
                        <td className="num">{compact(c.inputTokens + c.outputTokens)}</td>
                        <td>{ago(c.lastSeen)}</td>
                        <td>
                          {c.blocked ? (
                            <span className="pill pill-bad">blocked</span>
                          ) : (
                            <button type="button" className="btn btn-small btn-ghost" disabled={block.isPending} onClick={() => block.mutate(c.client)}>
                              Block
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <h2>Recent requests</h2>
            {data.recent.length === 0 ? (
              <Empty>Nothing yet. Send a request to the public listener and it shows up here within seconds.</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="recent-table">
                  <thead>
                    <tr>
                      <th>Time</th>
                      <th>Request id</th>
                      <th>Operation</th>
                      <th>Target</th>
                      <th>Caller</th>
                      <th>Client</th>
                      <th>Status</th>
                      <th className="num">Latency</th>
                      <th className="num">Tokens in/out</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.recent.map((r) => (
                      <tr key={r.requestId + r.time}>
                        <td>{clock(r.time)}</td>
                        <td className="mono ellipsis" title={r.requestId}>
                          {r.requestId}
                        </td>
                        <td>
                          {r.operation ?? '—'}
                          {r.stream && <span className="pill">stream</span>}
                        </td>
                        <td>{r.target ?? '—'}</td>
                        <td>{r.caller ?? '—'}</td>
                        <td className="mono">{r.client}</td>
                        <td>
                          <span className={`pill pill-${statusClass(r.status)}`}>{r.status}</span>
                          {r.code && <span className="muted small"> {r.code}</span>}
                        </td>
                        <td className="num">{ms(r.durationMs)}</td>
                        <td className="num">
                          {num(r.inputTokens)}/{num(r.outputTokens)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </QueryView>
    </section>
  );
}
