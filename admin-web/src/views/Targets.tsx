import type { CircuitView, StatsWindow, TargetHealth, TargetView, TargetWindowView, TargetsResponse } from '@sipp/shared';
import { useTargets } from '../api/hooks';
import { CircuitPanel } from '../components/Circuit';
import { Segmented } from '../components/Segmented';
import { Sparkline } from '../components/Sparkline';
import { Empty, QueryView } from '../components/States';
import { WINDOWS, ago, compact, ms, num, rate, usd } from '../format';
import { useChoice } from '../router';
import { CountLink } from './Callers';
import { GroupsTable, RefusalReasons } from '../components/GroupTraffic';
import { TableHead, type Column } from '../components/TableHead';

const HEALTH_TONE: Record<TargetHealth, string> = { ready: 'pill-ok', degraded: 'pill-warn', failing: 'pill-bad', idle: '' };
const WINDOW_MS: Record<StatsWindow, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000 };

const CIRCUIT_PILL: Record<CircuitView['state'], string> = { closed: 'pill-ok', half_open: 'pill-warn', open: 'pill-bad' };

function CircuitCell({ c }: { c: CircuitView | undefined }) {
  if (!c) return <>—</>;
  return (
    <span className={`pill ${c.drained ? 'pill-bad' : CIRCUIT_PILL[c.state]}`}>
      {c.drained ? 'drained' : c.state.replace('_', '-')}
    </span>
  );
}

function Row({
  name,
  w,
  window,
  models,
  circuit,
}: {
  name: string | null;
  w: TargetWindowView;
  window: StatsWindow;
  models?: Array<{ model: string; count: number }>;
  circuit?: CircuitView;
}) {
  const target = name ?? '-';
  const from = String(Date.now() - WINDOW_MS[window]);
  return (
    <tr data-testid={`target-row-${target}`}>
      <th scope="row">
        {name ?? <span className="muted">no target (unknown name, or refused before the body was read)</span>}
        {models && models.length > 0 && (
          <div className="muted small">asked for: {models.map((m) => `${m.model} (${num(m.count)})`).join(', ')}</div>
        )}
      </th>
      <td>{name === null ? '—' : <span className={`pill ${HEALTH_TONE[w.health]}`}>{w.health}</span>}</td>
      <td>{name === null ? '—' : <CircuitCell c={circuit} />}</td>
      <td>
        <Sparkline values={w.spark} tone={w.health === 'failing' ? 'bad' : 'a'} />
      </td>
      <td className="num">{rate(w.requestsPerSecond)}</td>
      <td className="num">
        <CountLink n={w.requests} label="requests" params={{ target, from }} />
      </td>
      <td className="num">
        <CountLink n={w.clientErrors} label="client errors" params={{ target, status: '4xx', from }} />
      </td>
      <td className="num">
        <CountLink n={w.serverErrors} label="server errors" params={{ target, status: '5xx', from }} />
      </td>
      <td className="num">
        <CountLink n={w.rateLimited} label="429 responses" params={{ target, status: '429', from }} />
      </td>
      <td className="small">
        {w.topCodes.length ? w.topCodes.map((c) => `${c.code} ×${num(c.count)}`).join(', ') : '—'}
        <RefusalReasons w={w} />
      </td>
      <td className="num">
        {ms(w.latencyMs.p50)} / {ms(w.latencyMs.p99)}
      </td>
      <td className="num">{ms(w.ttftP50Ms)}</td>
      <td className="num">{rate(w.outputTokensPerSecond)}</td>
      <td className="num" data-testid="cost">
        {usd(w.costUsd)}
      </td>
      <td className="small">{w.lastErrorAt === null ? '—' : `${ago(w.lastErrorAt)} · ${w.lastErrorCode ?? ''}`}</td>
    </tr>
  );
}

const TARGET_COLUMNS: readonly Column[] = [
  'Target',
  'Health',
  'Circuit',
  'Trend',
  { num: 'Req/s' },
  { num: 'Requests' },
  { num: '4xx' },
  { num: '5xx' },
  { num: '429' },
  'Top error codes',
  { num: 'p50 / p99' },
  { num: 'TTFT p50' },
  { num: 'Out tokens/s' },
  { num: 'Cost' },
  'Last error',
];

function TargetsTable({ data }: { data: TargetsResponse }) {
  return (
    <div className="table-wrap" data-testid="targets-table-wrap">
      <table data-testid="targets-table" className="targets-table">
        <caption>Traffic per target over the last {data.window}; health from the success rate of the last 5 minutes</caption>
        <TableHead columns={TARGET_COLUMNS} />
        <tbody>
          {data.targets.map((t) => (
            <Row key={t.name} name={t.name} w={t.window} window={data.window} circuit={t.circuit} />
          ))}
          <Row name={null} w={data.unrouted} window={data.window} models={data.unrouted.models} />
        </tbody>
      </table>
    </div>
  );
}

const TYPE_LABEL: Record<TargetView['type'], string> = {
  local: 'Local GGUF',
  openai: 'OpenAI',
  openai_compatible: 'OpenAI-compatible',
  anthropic: 'Anthropic',
};

function KeyValues({ values }: { values: Record<string, number | string | boolean | null> }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p className="muted small">No runtime numbers yet.</p>;
  return (
    <dl className="kv">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ')}</dt>
          <dd>{v === null ? '—' : typeof v === 'number' ? (Number.isInteger(v) ? num(v) : v.toFixed(2)) : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function TargetCard({ t }: { t: TargetView }) {
  const errRate = t.traffic.requests ? t.traffic.errors / t.traffic.requests : 0;
  return (
    <article className="card target" data-testid={`target-${t.name}`}>
      <header className="target-head">
        <h3 className="target-name">{t.name}</h3>
        <span className="pill">{TYPE_LABEL[t.type]}</span>
      </header>
      <dl className="kv">
        <div>
          <dt>Model</dt>
          <dd className="mono">{t.model}</dd>
        </div>
        <div>
          <dt>Operations</dt>
          <dd>{t.operations.join(', ')}</dd>
        </div>
        {t.baseUrl && (
          <div>
            <dt>Base URL</dt>
            <dd className="mono ellipsis" title={t.baseUrl}>
              {t.baseUrl}
            </dd>
          </div>
        )}
        {t.backend && (
          <div>
            <dt>Backend</dt>
            <dd>
              {t.backend.selected ?? 'loading'} <span className="muted">(requested {t.backend.requested})</span>
              {t.backend.devices.length > 0 && <span className="muted small"> · {t.backend.devices.join(', ')}</span>}
            </dd>
          </div>
        )}
        {t.stats && (
          <div>
            <dt>Stats</dt>
            <dd>{t.stats}</dd>
          </div>
        )}
      </dl>
      <div className="mini-tiles">
        <div>
          <span>Requests since start</span>
          <strong>{num(t.traffic.requests)}</strong>
        </div>
        <div>
          <span>Errors</span>
          <strong className={errRate > 0.1 ? 'bad-text' : undefined}>{num(t.traffic.errors)}</strong>
        </div>
        <div>
          <span>p50 / p99</span>
          <strong>
            {ms(t.traffic.latencyMs.p50)} / {ms(t.traffic.latencyMs.p99)}
          </strong>
        </div>
        <div>
          <span>Tokens in/out</span>
          <strong>
            {compact(t.traffic.inputTokens)} / {compact(t.traffic.outputTokens)}
          </strong>
        </div>
        <div>
          <span>Last request</span>
          <strong>{ago(t.traffic.lastRequestAt)}</strong>
        </div>
      </div>
      {t.circuit && <CircuitPanel target={t.name} circuit={t.circuit} />}
      {t.runtime && (
        <>
          <h3>Runtime</h3>
          <KeyValues values={t.runtime} />
        </>
      )}
      {t.profile && (
        <>
          <h3>Last request profile</h3>
          <KeyValues values={t.profile} />
        </>
      )}
    </article>
  );
}

export function Targets() {
  const [window, setWindow] = useChoice<StatsWindow>('window', WINDOWS, '5m');
  const targets = useTargets(window);
  return (
    <section aria-labelledby="targets-h">
      <div className="view-head">
        <h1 id="targets-h">Targets</h1>
        <Segmented label="Window" options={WINDOWS} value={window} onChange={setWindow} />
      </div>
      <QueryView query={targets}>
        {(data) =>
          data.targets.length === 0 ? (
            <Empty>No targets configured.</Empty>
          ) : (
            <>
              <TargetsTable data={data} />
              <GroupsTable data={data} />
              <h2>Details</h2>
              <div className="cards">
                {data.targets.map((t) => (
                  <TargetCard key={t.name} t={t} />
                ))}
              </div>
            </>
          )
        }
      </QueryView>
    </section>
  );
}
