import type { StatsWindow } from '@sipp/shared';
import { useCallers } from '../api/hooks';
import { Segmented } from '../components/Segmented';
import { Sparkline } from '../components/Sparkline';
import { Empty, QueryView } from '../components/States';
import { TableHead, type Column } from '../components/TableHead';
import { WINDOWS, ago, compact, ms, num, rate, usd } from '../format';
import { navigate, useChoice } from '../router';

/** A count that opens the explorer filtered to it (nothing to open at 0). */
export function CountLink({ n, params, label }: { n: number; params: Record<string, string>; label: string }) {
  if (n === 0) return <>0</>;
  return (
    <button
      type="button"
      className="link num-link"
      onClick={() => navigate('requests', params)}
      aria-label={`${num(n)} ${label}: open in the request explorer`}
    >
      {num(n)}
    </button>
  );
}

const CALLER_COLUMNS: readonly Column[] = [
  'Caller',
  'Trend',
  { num: 'Req/s' },
  { num: 'Requests' },
  { num: 'Tokens in' },
  { num: 'Tokens out' },
  { num: 'Cost' },
  { num: '4xx' },
  { num: '5xx' },
  { num: '429' },
  { num: 'p50' },
  'Last seen',
];

export function Callers() {
  const [window, setWindow] = useChoice<StatsWindow>('window', WINDOWS, '5m');
  const callers = useCallers(window);
  const from = String(Date.now() - ({ '1m': 60, '5m': 300, '15m': 900, '1h': 3600 } as const)[window] * 1000);
  return (
    <section aria-labelledby="callers-h">
      <div className="view-head">
        <h1 id="callers-h">Callers</h1>
        <Segmented label="Window" options={WINDOWS} value={window} onChange={setWindow} />
      </div>
      <QueryView query={callers}>
        {(data) =>
          data.callers.length === 0 ? (
            <Empty>No callers configured.</Empty>
          ) : (
            <div className="table-wrap">
              <table data-testid="callers-table">
                <caption>Traffic per caller label over the last {window} (bearer tokens are shown by label only)</caption>
                <TableHead columns={CALLER_COLUMNS} />
                <tbody>
                  {data.callers.map((c) => {
                    const caller = c.caller ?? '-';
                    return (
                      <tr key={caller} data-testid={`caller-row-${caller}`}>
                        <th scope="row">{c.caller ?? <span className="muted">unauthenticated</span>}</th>
                        <td>
                          <Sparkline values={c.spark} />
                        </td>
                        <td className="num">{rate(c.requestsPerSecond)}</td>
                        <td className="num">
                          <CountLink n={c.requests} label="requests" params={{ caller, from }} />
                        </td>
                        <td className="num">{compact(c.inputTokens)}</td>
                        <td className="num">{compact(c.outputTokens)}</td>
                        <td className="num" data-testid="cost">
                          {usd(c.costUsd)}
                        </td>
                        <td className="num">
                          <CountLink n={c.clientErrors} label="client errors" params={{ caller, status: '4xx', from }} />
                        </td>
                        <td className="num">
                          <CountLink n={c.serverErrors} label="server errors" params={{ caller, status: '5xx', from }} />
                        </td>
                        <td className="num">
                          <CountLink n={c.rateLimited} label="429 responses" params={{ caller, status: '429', from }} />
                        </td>
                        <td className="num">{ms(c.latencyMs.p50)}</td>
                        <td>{ago(c.lastSeen)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              {data.untracked ? (
                <p className="muted" data-testid="callers-untracked">
                  {data.untracked} more caller{data.untracked === 1 ? '' : 's'} made by managed keys, past this dashboard&apos;s
                  limit of 64 (see Spend).
                </p>
              ) : null}
            </div>
          )
        }
      </QueryView>
    </section>
  );
}
