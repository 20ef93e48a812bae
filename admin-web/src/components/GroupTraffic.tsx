/**
 * Attribution pieces of the Targets view (docs/dashboard.md#reasons): the
 * refusal reasons of a row, and the table of `[[groups]]` with every request
 * routed through each (served by a member or refused: `no_member`).
 */
import type { StatsWindow, TargetHealth, TargetWindowView, TargetsResponse } from '@sipp/shared';
import { ms, num, rate } from '../format';
import { Sparkline } from './Sparkline';
import { TableHead, type Column } from './TableHead';
import { CountLink } from '../views/Callers';

const HEALTH_TONE: Record<TargetHealth, string> = { ready: 'pill-ok', degraded: 'pill-warn', failing: 'pill-bad', idle: '' };
const WINDOW_MS: Record<StatsWindow, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000 };

/** "refused: circuit_open ×3" under a row's error codes; nothing without refusals. */
export function RefusalReasons({ w }: { w: TargetWindowView }) {
  if (!w.reasons || w.reasons.length === 0) return null;
  return (
    <div className="muted small" data-testid="row-reasons">
      refused: {w.reasons.map((r) => `${r.reason} ×${num(r.count)}`).join(', ')}
    </div>
  );
}

const GROUP_COLUMNS: readonly Column[] = [
  'Group',
  'Health',
  'Trend',
  { num: 'Requests' },
  { num: '4xx' },
  { num: '5xx' },
  { num: '429' },
  'Refused',
  { num: 'p50 / p99' },
  { num: 'Req/s' },
];

export function GroupsTable({ data }: { data: TargetsResponse }) {
  if (!data.groups || data.groups.length === 0) return null;
  const from = String(Date.now() - WINDOW_MS[data.window]);
  return (
    <div className="table-wrap">
      <table data-testid="group-traffic-table">
        <caption>
          Traffic per group over the last {data.window}: every request routed through it, served by a member or refused
        </caption>
        <TableHead columns={GROUP_COLUMNS} />
        <tbody>
          {data.groups.map((g) => {
            const w = g.window;
            return (
              <tr key={g.name} data-testid={`group-row-${g.name}`}>
                <th scope="row">
                  {g.name}
                  <div className="muted small">
                    {g.strategy}: {g.members.join(', ')}
                  </div>
                </th>
                <td>
                  <span className={`pill ${HEALTH_TONE[w.health]}`}>{w.health}</span>
                </td>
                <td>
                  <Sparkline values={w.spark} tone={w.health === 'failing' ? 'bad' : 'a'} />
                </td>
                <td className="num">
                  <CountLink n={w.requests} label="requests" params={{ group: g.name, from }} />
                </td>
                <td className="num">
                  <CountLink n={w.clientErrors} label="client errors" params={{ group: g.name, status: '4xx', from }} />
                </td>
                <td className="num">
                  <CountLink n={w.serverErrors} label="server errors" params={{ group: g.name, status: '5xx', from }} />
                </td>
                <td className="num">
                  <CountLink n={w.rateLimited} label="429 responses" params={{ group: g.name, status: '429', from }} />
                </td>
                <td className="small">
                  {w.reasons.length ? w.reasons.map((r) => `${r.reason} ×${num(r.count)}`).join(', ') : '—'}
                </td>
                <td className="num">
                  {ms(w.latencyMs.p50)} / {ms(w.latencyMs.p99)}
                </td>
                <td className="num">{rate(w.requestsPerSecond)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
