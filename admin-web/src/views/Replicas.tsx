/** Replicas: the gateways sharing this one's state store (GET <admin>/api/fleet). */
import type { FleetResponse } from '@sipp/shared';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import { REFRESH_MS } from '../api/hooks';
import { QueryView } from '../components/States';
import { Tile } from '../components/Tile';
import { ago, compact, duration, num } from '../format';

const useFleet = () =>
  useQuery({
    queryKey: ['fleet'],
    queryFn: () => api<FleetResponse>('GET', 'fleet'),
    refetchInterval: REFRESH_MS,
    refetchIntervalInBackground: false,
  });

export function Replicas() {
  const fleet = useFleet();
  return (
    <section aria-labelledby="replicas-h">
      <h1 id="replicas-h">Replicas</h1>
      <QueryView query={fleet}>
        {(data) => {
          const self = data.replicas.find((r) => r.self)!;
          return (
            <>
              <p className="muted">
                State backend <span className="mono">{data.backend}</span>
                {data.backend === 'redis' && !data.storeReachable && (
                  <strong className="bad-text"> · Redis unreachable: showing this replica only</strong>
                )}
                {' · '}a replica is down after {duration(Math.round(data.replicaTimeoutMs / 1000))} without a heartbeat.
                Prometheus metrics stay per replica.
              </p>
              <div className="tiles" data-testid="fleet-tiles">
                <Tile
                  label="Replicas up"
                  value={`${data.totals.up} / ${data.totals.replicas}`}
                  tone={data.totals.up < data.totals.replicas ? 'warn' : 'ok'}
                />
                <Tile label="In flight (fleet)" value={num(data.totals.inFlight)} hint={`this replica: ${num(self.inFlight)}`} />
                <Tile
                  label="Requests/s (fleet)"
                  value={data.totals.requestsPerSecond.toFixed(2)}
                  hint={`this replica: ${self.requestsPerSecond.toFixed(2)}`}
                />
                <Tile
                  label="Requests (fleet)"
                  value={compact(data.totals.requestsTotal)}
                  hint={`this replica: ${compact(self.requestsTotal)}`}
                />
              </div>
              <div className="table-wrap">
                <table data-testid="replicas-table">
                  <thead>
                    <tr>
                      <th>Replica</th>
                      <th>Status</th>
                      <th>Host</th>
                      <th>Version</th>
                      <th>Uptime</th>
                      <th>Last heartbeat</th>
                      <th>In flight</th>
                      <th>Requests/s</th>
                      <th>Requests</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.replicas.map((r) => (
                      <tr key={r.id} data-testid={`replica-${r.id}`}>
                        <td className="mono">
                          {r.id}
                          {r.self && <span className="pill pill-a"> this replica</span>}
                        </td>
                        <td>
                          <span className={`pill ${r.up ? 'pill-ok' : 'pill-bad'}`}>{r.up ? 'up' : 'down'}</span>
                        </td>
                        <td className="mono">{r.host}</td>
                        <td>{r.version}</td>
                        <td>{r.up ? duration(r.uptimeSeconds) : '—'}</td>
                        <td>{r.self ? 'now' : ago(r.heartbeatAt)}</td>
                        <td>{num(r.inFlight)}</td>
                        <td>{r.requestsPerSecond.toFixed(2)}</td>
                        <td>{compact(r.requestsTotal)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          );
        }}
      </QueryView>
    </section>
  );
}
