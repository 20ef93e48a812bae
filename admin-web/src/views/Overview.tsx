import { useEffect, useState } from 'react';
import type {
  CircuitStripEntry,
  HealthStatus,
  OverviewResponse,
  StatsWindow,
  TimeseriesRange,
  TimeseriesResponse,
} from '@sipp/shared';
import { useOverview, useTimeseries } from '../api/hooks';
import { Chart } from '../components/Chart';
import { Segmented } from '../components/Segmented';
import { QueryView } from '../components/States';
import { Tile } from '../components/Tile';
import { RANGES, WINDOWS, compact, duration, ms, num, pct, rate } from '../format';
import { navigate, useChoice } from '../router';

const WINDOW_TEXT: Record<StatsWindow, string> = {
  '1m': 'last minute',
  '5m': 'last 5 minutes',
  '15m': 'last 15 minutes',
  '1h': 'last hour',
};

const VERDICT_PILL: Record<HealthStatus, string> = { healthy: 'pill-ok', degraded: 'pill-warn', down: 'pill-bad' };
const STRIP_LABEL: Record<CircuitStripEntry['state'], string> = { open: 'open', half_open: 'half-open', drained: 'drained' };

/** Seconds left, counted down locally between refreshes (each refresh brings the server's value again). */
function Countdown({ seconds }: { seconds: number }) {
  const [since, setSince] = useState(() => Date.now());
  const [, tick] = useState(0);
  useEffect(() => setSince(Date.now()), [seconds]);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  const left = Math.max(0, seconds - Math.floor((Date.now() - since) / 1000));
  return <>{left > 0 ? `probe in ${left}s` : 'probe due'}</>;
}

/** The one health verdict with its reasons, and the circuits that are not closed (docs/dashboard.md#health-verdict). */
function Health({ o }: { o: OverviewResponse }) {
  const h = o.health;
  return (
    <div className="card health" data-testid="health">
      <h2 className="sr-only">Health</h2>
      <span className={`pill ${VERDICT_PILL[h.status]}`} data-testid="health-status">
        {h.status}
      </span>
      {h.reasons.length > 0 ? (
        <ul data-testid="health-reasons">
          {h.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : (
        <span className="muted small">No open circuit; 5xx, 429 and saturation below their thresholds (last 5 minutes).</span>
      )}
      {o.circuits.length > 0 && (
        <ul className="circuit-strip" aria-label="Circuits not closed" data-testid="circuit-strip">
          {o.circuits.map((c) => (
            <li key={c.target} data-testid={`strip-${c.target}`}>
              <button type="button" className="link" onClick={() => navigate('targets')}>
                {c.target}
              </button>{' '}
              <span className={`pill ${c.state === 'half_open' ? 'pill-warn' : 'pill-bad'}`}>{STRIP_LABEL[c.state]}</span>{' '}
              <span className="small">
                {c.retryInSeconds === null ? (
                  'until released'
                ) : c.state === 'open' ? (
                  <Countdown seconds={c.retryInSeconds} />
                ) : (
                  'probing'
                )}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const tone = (r: number, requests: number) => (requests === 0 ? undefined : r > 0.1 ? 'bad' : r > 0.01 ? 'warn' : 'ok');

/** Budgets past their soft threshold this period (docs/budgets.md#soft-threshold). */
function BudgetBanner({ o }: { o: OverviewResponse }) {
  const alerts = o.budgetAlerts ?? [];
  if (alerts.length === 0) return null;
  return (
    <p className="notice budget-banner" role="status" data-testid="budget-banner">
      Budgets past their soft threshold:{' '}
      {alerts.map((a, i) => (
        <span key={`${a.scope}:${a.name}:${a.period}`}>
          {i > 0 ? ', ' : ''}
          {a.scope} <strong>{a.name}</strong> at {a.percent.toFixed(1)} % of its{' '}
          {a.period === 'total' ? 'total' : a.period === 'day' ? 'daily' : a.period + 'ly'} budget
        </span>
      ))}
    </p>
  );
}

function Tiles({ o }: { o: OverviewResponse }) {
  const c = o.current;
  const t = o.totals;
  const limit = o.inFlight.limit;
  const open = (status: string) => () => navigate('requests', { status, from: String(Date.now() - c.seconds * 1000) });
  return (
    <>
      <Health o={o} />
      <BudgetBanner o={o} />
      <div className="tiles" data-testid="overview-tiles">
        <Tile
          label="Requests / s"
          value={<span data-testid="tile-rps">{rate(c.requestsPerSecond)}</span>}
          hint={<span data-testid="window-requests">{num(c.requests)} requests</span>}
        />
        <Tile
          label="Output tokens / s"
          value={rate(c.outputTokensPerSecond)}
          hint={`${rate(c.inputTokensPerSecond)} input tokens/s`}
        />
        <Tile
          label="Client errors (4xx)"
          value={<span data-testid="tile-4xx">{pct(c.clientErrorRate)}</span>}
          tone={tone(c.clientErrorRate, c.requests)}
          hint={
            <button type="button" className="link" onClick={open('4xx')}>
              {num(c.clientErrors)} requests, 429 excluded
            </button>
          }
        />
        <Tile
          label="Server errors (5xx)"
          value={<span data-testid="tile-5xx">{pct(c.serverErrorRate)}</span>}
          tone={tone(c.serverErrorRate, c.requests)}
          hint={
            <button type="button" className="link" onClick={open('5xx')}>
              {num(c.serverErrors)} requests
            </button>
          }
        />
        <Tile
          label="429 Too Many Requests"
          value={num(c.rateLimited)}
          tone={c.rateLimited > 0 ? 'warn' : undefined}
          hint={
            <button type="button" className="link" onClick={open('429')}>
              open in explorer
            </button>
          }
        />
        <Tile label="Latency p50" value={ms(c.latencyMs.p50)} hint={`p90 ${ms(c.latencyMs.p90)} · p99 ${ms(c.latencyMs.p99)}`} />
        <Tile label="TTFT p50 (streams)" value={ms(c.ttftP50Ms)} hint="time to first token" />
        <Tile
          label="In flight"
          value={`${num(o.inFlight.active)}${limit === null ? '' : ` / ${num(limit)}`}`}
          tone={limit !== null && o.inFlight.active >= limit ? 'warn' : undefined}
          hint={
            limit === null
              ? 'no concurrency limit'
              : `limit ${num(limit)}${o.controls.configuredConcurrencyLimit !== limit ? ' (changed at run time)' : ''}`
          }
        />
      </div>
      <p className="muted small totals-line" data-testid="totals-line">
        Since start ({duration(o.uptimeSeconds)} ago, v{o.version}, {o.ready ? 'ready' : 'not ready'}):{' '}
        <span data-testid="total-requests">{num(t.requests)}</span> requests · {num(t.errors)} errors ({pct(t.errorRate)}) ·{' '}
        {num(t.rateLimitHits)} rate-limited · {num(t.blocklistHits)} blocked · {compact(t.inputTokens)} tokens in /{' '}
        {compact(t.outputTokens)} out · p50 {ms(o.latencyMs.p50)} / p99 {ms(o.latencyMs.p99)}
      </p>
      {o.localBackends.length > 0 && (
        <p className="muted small">
          Local backends:{' '}
          {o.localBackends.map((b) => (
            <span key={b.target} className="pill">
              {b.target}: {b.selected ?? 'pending'} (requested {b.requested})
            </span>
          ))}
        </p>
      )}
    </>
  );
}

function Charts({ ts }: { ts: TimeseriesResponse }) {
  const starts = ts.points.map((p) => p.start);
  const sum = (k: 'requests' | 'clientErrors' | 'serverErrors' | 'rateLimited') => ts.points.reduce((a, p) => a + p[k], 0);
  const explore = (status?: string) => (i: number) => {
    const start = starts[i]!;
    navigate('requests', { status, from: String(start), to: String(start + ts.bucketMs) });
  };
  const errorSpike = (i: number) => {
    const p = ts.points[i]!;
    const status =
      p.serverErrors >= p.clientErrors && p.serverErrors >= p.rateLimited
        ? '5xx'
        : p.rateLimited > p.clientErrors
          ? '429'
          : '4xx';
    explore(p.serverErrors + p.clientErrors + p.rateLimited > 0 ? status : undefined)(i);
  };
  return (
    <div className="charts">
      <Chart
        testId="chart-requests"
        title="Requests"
        unit="req/s"
        bucketMs={ts.bucketMs}
        summary={`${num(sum('requests'))} requests in range`}
        starts={starts}
        format={rate}
        onSelect={explore()}
        series={[{ name: 'requests', tone: 'a', values: ts.points.map((p) => p.requestsPerSecond), area: true }]}
      />
      <Chart
        testId="chart-errors"
        title="Errors by class"
        unit="req/s"
        bucketMs={ts.bucketMs}
        summary={`${num(sum('clientErrors'))} 4xx · ${num(sum('rateLimited'))} 429 · ${num(sum('serverErrors'))} 5xx`}
        starts={starts}
        format={rate}
        onSelect={errorSpike}
        selectLabel="Open these errors"
        series={[
          { name: '4xx', tone: 'warn', values: ts.points.map((p) => p.clientErrorsPerSecond) },
          { name: '429', tone: 'c', values: ts.points.map((p) => p.rateLimitedPerSecond) },
          { name: '5xx', tone: 'bad', values: ts.points.map((p) => p.serverErrorsPerSecond) },
        ]}
      />
      <Chart
        testId="chart-latency"
        title="Latency"
        unit="ms"
        log
        bucketMs={ts.bucketMs}
        summary="log scale"
        starts={starts}
        format={(v) => (v >= 1000 ? `${compact(v / 1000)} s` : v >= 1 ? String(Math.round(v)) : v.toFixed(2))}
        series={[
          { name: 'p50', tone: 'a', values: ts.points.map((p) => p.latencyP50) },
          { name: 'p90', tone: 'b', values: ts.points.map((p) => p.latencyP90) },
          { name: 'p99', tone: 'bad', values: ts.points.map((p) => p.latencyP99) },
        ]}
      />
      <Chart
        testId="chart-tokens"
        title="Tokens"
        unit="tokens/s"
        bucketMs={ts.bucketMs}
        starts={starts}
        format={rate}
        series={[
          { name: 'input', tone: 'a', values: ts.points.map((p) => p.inputTokensPerSecond), area: true },
          { name: 'output', tone: 'b', values: ts.points.map((p) => p.outputTokensPerSecond), area: true },
        ]}
      />
    </div>
  );
}

export function Overview() {
  const [window, setWindow] = useChoice<StatsWindow>('window', WINDOWS, '5m');
  const [range, setRange] = useChoice<TimeseriesRange>('range', RANGES, '1h');
  const overview = useOverview(window);
  const ts = useTimeseries(range);
  return (
    <section aria-labelledby="overview-h">
      <div className="view-head">
        <h1 id="overview-h">Overview</h1>
        <Segmented label="Window" options={WINDOWS} value={window} onChange={setWindow} />
      </div>
      <p className="muted small">Figures for the {WINDOW_TEXT[window]}.</p>
      <QueryView query={overview}>{(o) => <Tiles o={o} />}</QueryView>
      <div className="view-head">
        <h2>Charts</h2>
        <Segmented label="Time range" options={RANGES} value={range} onChange={setRange} />
      </div>
      <QueryView query={ts}>{(data) => <Charts ts={data} />}</QueryView>
    </section>
  );
}
