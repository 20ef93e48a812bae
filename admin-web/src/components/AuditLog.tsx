/**
 * The audit log (docs/dashboard.md#audit-log): readable times, before/after as
 * readable values with the changed ones marked, the operator's reason, a filter
 * by action, sign-ins hidden unless asked for, and an export (CSV / JSON) of
 * exactly the filtered list, served by `GET audit?…&format=`.
 */
import { useState } from 'react';
import type { AuditEntry } from '@sipp/shared';
import { BASE_PATH } from '../api/client';
import { useAudit } from '../api/hooks';
import { ago } from '../format';
import { Empty, QueryView } from './States';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const readableTime = (epochMs: number): string => dateTime.format(new Date(epochMs));

/** Keys whose numbers are epoch-ms times (`addedAt`, `expiresAt`, `time`). */
const isTimeKey = (key: string) => key === 'time' || /At$/.test(key);

function value(key: string, v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return isTimeKey(key) && v > 1e12 ? readableTime(v) : String(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => value(key, x)).join(', ');
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k} ${value(k, x)}`)
    .join(', ');
}

const label = (key: string) =>
  key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .toLowerCase();
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** One side of a change as a small key/value list; `other` marks the keys that differ. */
function Values({ side, other, testId }: { side: unknown; other: unknown; testId: string }) {
  if (side === null || side === undefined) return <span className="muted">—</span>;
  if (typeof side !== 'object' || Array.isArray(side)) return <span data-testid={testId}>{value('', side)}</span>;
  const o = (other && typeof other === 'object' ? other : {}) as Record<string, unknown>;
  return (
    <dl className="audit-values" data-testid={testId}>
      {Object.entries(side as Record<string, unknown>).map(([k, v]) => (
        <div key={k} className={other !== null && other !== undefined && !same(v, o[k]) ? 'changed' : undefined}>
          <dt>{label(k)}</dt>
          <dd>{value(k, v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function Row({ e }: { e: AuditEntry }) {
  return (
    <tr data-testid="audit-row" data-action={e.action}>
      <td>
        <time dateTime={new Date(e.time).toISOString()} title={new Date(e.time).toISOString()}>
          {readableTime(e.time)}
        </time>
        <div className="muted small">{ago(e.time)}</div>
      </td>
      <th scope="row">{e.action}</th>
      <td className="wrap" data-testid="audit-reason">
        {e.reason ?? <span className="muted">—</span>}
      </td>
      <td className="wrap">
        <Values side={e.before} other={e.after} testId="audit-before" />
      </td>
      <td className="wrap">
        <Values side={e.after} other={e.before} testId="audit-after" />
      </td>
      <td className="mono">{e.session ?? '—'}</td>
      <td className="mono">{e.client}</td>
    </tr>
  );
}

export function AuditLog() {
  const [action, setAction] = useState('');
  const [logins, setLogins] = useState(false);
  const params = new URLSearchParams();
  if (action) params.set('action', action);
  if (!logins) params.set('logins', 'hide');
  const query = params.toString();
  const audit = useAudit(query);
  const exportHref = (format: 'csv' | 'json') => `${BASE_PATH}/api/audit?${query ? `${query}&` : ''}format=${format}`;
  return (
    <div className="card" aria-labelledby="audit-h">
      <h2 id="audit-h">Audit log</h2>
      <div className="audit-controls">
        <label>
          Action
          <select name="audit-action" value={action} onChange={(e) => setAction(e.target.value)}>
            <option value="">All actions</option>
            {(audit.data?.actions ?? [])
              .filter((a) => logins || !['login', 'login_failed', 'logout'].includes(a))
              .concat(action && !(audit.data?.actions ?? []).includes(action) ? [action] : [])
              .map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" name="show-logins" checked={logins} onChange={(e) => setLogins(e.target.checked)} />
          Show sign-ins and sign-outs
        </label>
        <span className="audit-export">
          Export:{' '}
          <a className="btn btn-small btn-ghost" href={exportHref('csv')} download>
            CSV
          </a>{' '}
          <a className="btn btn-small btn-ghost" href={exportHref('json')} download>
            JSON
          </a>
        </span>
      </div>
      <QueryView query={audit} what="the audit log">
        {(data) =>
          data.entries.length === 0 ? (
            <Empty>
              {data.kept === 0
                ? 'No admin actions yet.'
                : `No entries match (${data.kept} kept; sign-ins are hidden unless shown).`}
            </Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="audit-table">
                <caption className="sr-only">
                  Admin actions, newest first: {data.entries.length} of the {data.kept} kept (the last {data.capacity} are kept)
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Action</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Before</th>
                    <th scope="col">After</th>
                    <th scope="col">Session</th>
                    <th scope="col">Client</th>
                  </tr>
                </thead>
                <tbody>
                  {data.entries.map((e, i) => (
                    <Row key={`${e.time}-${i}`} e={e} />
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </div>
  );
}
