import { useClients } from '../api/hooks';
import { BlockAction } from '../components/BlockAction';
import { Empty, QueryView } from '../components/States';
import { ago, compact, num } from '../format';
import { CountLink } from './Callers';

export function Clients() {
  const clients = useClients();
  return (
    <section aria-labelledby="clients-h">
      <h1 id="clients-h">Clients</h1>
      <QueryView query={clients}>
        {(data) =>
          data.clients.length === 0 ? (
            <Empty>No public requests yet. Clients appear here after their first call.</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="clients-table">
                <caption>Busiest client addresses since start ({num(data.trackedClients)} tracked)</caption>
                <thead>
                  <tr>
                    <th scope="col">Client</th>
                    <th scope="col">Caller</th>
                    <th scope="col" className="num">
                      Requests
                    </th>
                    <th scope="col" className="num">
                      Errors
                    </th>
                    <th scope="col" className="num">
                      Rate-limited
                    </th>
                    <th scope="col" className="num">
                      Blocked hits
                    </th>
                    <th scope="col" className="num">
                      Tokens
                    </th>
                    <th scope="col">Last seen</th>
                    <th scope="col">Blocklist</th>
                  </tr>
                </thead>
                <tbody>
                  {data.clients.map((c) => (
                    <tr key={c.client}>
                      <th scope="row" className="mono">
                        {c.client}
                      </th>
                      <td>{c.caller ?? <span className="muted">unauthenticated</span>}</td>
                      <td className="num">
                        <CountLink n={c.requests} label="requests" params={{ client: c.client }} />
                      </td>
                      <td className="num">{num(c.errors)}</td>
                      <td className="num">{num(c.rateLimitHits)}</td>
                      <td className="num">{num(c.blocklistHits)}</td>
                      <td className="num">{compact(c.inputTokens + c.outputTokens)}</td>
                      <td>{ago(c.lastSeen)}</td>
                      <td>
                        <BlockAction client={c.client} blocked={c.blocked} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </section>
  );
}
