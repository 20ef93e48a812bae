/** Routing pieces of the dashboard: a target's circuit with drain/release, and the groups table. */
import type { CircuitView, GroupView } from '@sipp/shared';
import { useDrain, useRelease } from '../api/hooks';
import { ago, pct } from '../format';

const STATE_LABEL: Record<CircuitView['state'], string> = { closed: 'closed', half_open: 'half-open', open: 'open' };
const STATE_PILL: Record<CircuitView['state'], string> = { closed: 'pill-ok', half_open: 'pill-warn', open: 'pill-bad' };

export function CircuitPanel({ target, circuit }: { target: string; circuit: CircuitView }) {
  const drain = useDrain();
  const release = useRelease();
  const busy = drain.isPending || release.isPending;
  const error = drain.error ?? release.error;
  return (
    <div className="circuit" data-testid={`circuit-${target}`}>
      <h3>Circuit</h3>
      <dl className="kv">
        <div>
          <dt>State</dt>
          <dd>
            <span className={`pill ${STATE_PILL[circuit.state]}`} data-testid={`circuit-state-${target}`}>
              {circuit.drained ? 'drained' : STATE_LABEL[circuit.state]}
            </span>
            {circuit.settings ? (
              <span className="muted small">
                {' '}
                opens after {circuit.settings.failureThreshold} failures for {circuit.settings.openSeconds}s
              </span>
            ) : (
              <span className="muted small"> no [targets.circuit]: opens only when drained</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Consecutive failures</dt>
          <dd>{circuit.consecutiveFailures}</dd>
        </div>
        <div>
          <dt>Last failure</dt>
          <dd>{circuit.lastFailure ? `${circuit.lastFailure.code} · ${ago(circuit.lastFailure.time)}` : 'none'}</dd>
        </div>
        <div>
          <dt>Success rate (5 min)</dt>
          <dd>{circuit.successRate5m === null ? '—' : pct(circuit.successRate5m)}</dd>
        </div>
      </dl>
      {circuit.drained ? (
        <button
          type="button"
          className="btn btn-small"
          disabled={busy}
          onClick={() => release.mutate(target)}
          aria-label={`Release ${target}`}
        >
          Release
        </button>
      ) : (
        <button
          type="button"
          className="btn btn-small btn-ghost"
          disabled={busy}
          onClick={() => drain.mutate(target)}
          aria-label={`Drain ${target}`}
        >
          Drain
        </button>
      )}
      {error && <p className="bad-text small">{error.message}</p>}
    </div>
  );
}

export function GroupsTable({ groups }: { groups: GroupView[] }) {
  if (groups.length === 0) return <p className="muted small">No [[groups]] configured: clients address targets directly.</p>;
  return (
    <div className="table-wrap">
      <table data-testid="groups-table">
        <caption>Configured groups: how a group name routes to its member targets</caption>
        <thead>
          <tr>
            <th scope="col">Group</th>
            <th scope="col">Strategy</th>
            <th scope="col">Members</th>
            <th scope="col">Retry</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.name}>
              <th scope="row">{g.name}</th>
              <td>
                <span className="pill pill-a">{g.strategy}</span>
              </td>
              <td>{g.targets.map((t, i) => (g.weights ? `${t} (×${g.weights[i]})` : t)).join(' → ')}</td>
              <td className="small">
                {g.retry.attempts}× per member · backoff {g.retry.backoffMs}–{g.retry.maxBackoffMs} ms · on{' '}
                {g.retry.on.join(', ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
