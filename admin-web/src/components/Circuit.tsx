/** Routing pieces of the dashboard: a target's circuit with drain/release, and the groups table. */
import { useState } from 'react';
import type { CircuitView, GroupView } from '@sipp/shared';
import { useDrain, useRelease } from '../api/hooks';
import { ago, pct } from '../format';

/** TARGET_REASON_MAX in @sipp/shared (the SPA imports only types from it, so zod is not shipped). */
const TARGET_REASON_MAX = 500;
const STATE_LABEL: Record<CircuitView['state'], string> = { closed: 'closed', half_open: 'half-open', open: 'open' };
const STATE_PILL: Record<CircuitView['state'], string> = { closed: 'pill-ok', half_open: 'pill-warn', open: 'pill-bad' };

/**
 * Drain / Release: a confirmation step that asks why (required here; the API
 * records it in the audit entry, docs/dashboard.md#views).
 */
function DrainControl({ target, drained }: { target: string; drained: boolean }) {
  const drain = useDrain();
  const release = useRelease();
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState('');
  const mutation = drained ? release : drain;
  const verb = drained ? 'Release' : 'Drain';
  const trimmed = reason.trim();
  const tooLong = trimmed.length > TARGET_REASON_MAX;
  const error = drain.error ?? release.error;
  if (!confirming) {
    return (
      <>
        <button
          type="button"
          className={`btn btn-small${drained ? '' : ' btn-ghost'}`}
          onClick={() => {
            drain.reset();
            release.reset();
            setReason('');
            setConfirming(true);
          }}
          aria-label={`${verb} ${target}`}
        >
          {verb}
        </button>
        {error && <p className="bad-text small">{error.message}</p>}
      </>
    );
  }
  return (
    <form
      className="confirm-form"
      aria-label={`Confirm: ${verb.toLowerCase()} ${target}`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!trimmed || tooLong) return;
        mutation.mutate({ name: target, reason: trimmed }, { onSuccess: () => setConfirming(false) });
      }}
    >
      <p className="small">
        {drained
          ? `Release ${target}? Its circuit closes and it takes traffic again from the next request.`
          : `Drain ${target}? Groups skip it and direct requests get 503 until it is released.`}
      </p>
      <label>
        Reason (kept in the audit log)
        <textarea
          name="reason"
          rows={2}
          value={reason}
          maxLength={TARGET_REASON_MAX}
          required
          autoFocus
          onChange={(e) => setReason(e.target.value)}
          aria-invalid={tooLong}
        />
      </label>
      <div className="form-actions">
        <button
          type="submit"
          className={`btn btn-small${drained ? '' : ' btn-danger'}`}
          disabled={!trimmed || tooLong || mutation.isPending}
        >
          {mutation.isPending ? 'Saving…' : `Confirm ${verb.toLowerCase()}`}
        </button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(false)}>
          Cancel
        </button>
        {!trimmed && <span className="muted small">A reason is required.</span>}
      </div>
      {mutation.error && <p className="field-error">{mutation.error.message}</p>}
    </form>
  );
}

export function CircuitPanel({ target, circuit }: { target: string; circuit: CircuitView }) {
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
      <DrainControl key={String(circuit.drained)} target={target} drained={circuit.drained} />
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
