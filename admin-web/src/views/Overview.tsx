import type { OverviewResponse, TimeseriesResponse } from '@sipp/shared';
import { useOverview, useTimeseries } from '../api/hooks';
import { LineChart } from '../components/LineChart';
import { QueryView } from '../components/States';
import { Tile } from '../components/Tile';
import { compact, duration, ms, num, pct } from '../format';

const count = (v: number) => (Number.isInteger(v) ? compact(v) : v.toFixed(1));
const plural = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? '' : 's'}`;

function Tiles({ o }: { o: OverviewResponse }) {
  const t = o.totals;
  const errTone = t.requests === 0 ? undefined : t.errorRate > 0.1 ? 'bad' : t.errorRate > 0.01 ? 'warn' : 'ok';
  const limit = o.controls.concurrencyLimit;
  return (
    <div className="tiles" data-testid="overview-tiles">
      <Tile label="Uptime" value={duration(o.uptimeSeconds)} hint={<>v{o.version} · {o.ready ? <span className="pill pill-ok">ready</span> : <span className="pill pill-warn">not ready</span>}</>} />
      <Tile label="Requests" value={<span data-testid="total-requests">{num(t.requests)}</span>} hint={`${plural(t.errors, 'error')} since start`} />
      <Tile label="Error rate" value={pct(t.errorRate)} tone={errTone} hint={`${num(t.rateLimitHits)} rate-limited · ${num(t.blocklistHits)} blocked`} />
      <Tile label="Latency p50" value={ms(o.latencyMs.p50)} hint={`p90 ${ms(o.latencyMs.p90)} · p99 ${ms(o.latencyMs.p99)}`} />
      <Tile label="Tokens" value={compact(t.inputTokens + t.outputTokens)} hint={`${compact(t.inputTokens)} in · ${compact(t.outputTokens)} out`} />
      <Tile
        label="Active requests"
        value={num(o.activeRequests)}
        tone={limit !== null && o.activeRequests >= limit ? 'warn' : undefined}
        hint={limit === null ? 'no concurrency limit' : `limit ${num(limit)}${o.controls.configuredConcurrencyLimit !== limit ? ' (changed at run time)' : ''}`}
      />
    </div>
  );
}

function Charts({ ts }: { ts: TimeseriesResponse }) {
  const starts = ts.points.map((p) => p.start);
  const perBucket = (k: 'requests' | 'errors' | 'inputTokens' | 'outputTokens') => ts.points.map((p) => p[k]);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const secs = ts.bucketMs / 1000;
  return (
    <div className="charts">
      <LineChart
        title="Requests"
        summary={`${num(sum(perBucket('requests')))} in 30 min · per ${secs}s`}
        starts={starts}
        format={count}
        series={[
          { name: 'requests', tone: 'a', values: perBucket('requests'), area: true },
          { name: 'errors', tone: 'bad', values: perBucket('errors') },
        ]}
      />
      <LineChart
        title="Errors"
        summary={`${num(sum(perBucket('errors')))} in 30 min`}
        starts={starts}
        format={count}
        series={[{ name: 'errors', tone: 'bad', values: perBucket('errors'), area: true }]}
      />
      <LineChart
        title="Latency"
        starts={starts}
        format={(v) => ms(v)}
        series={[
          { name: 'p50', tone: 'a', values: ts.points.map((p) => p.latencyP50) },
          { name: 'p99', tone: 'b', values: ts.points.map((p) => p.latencyP99) },
        ]}
      />
      <LineChart
        title="Tokens"
        summary={`${compact(sum(perBucket('inputTokens')) + sum(perBucket('outputTokens')))} in 30 min`}
        starts={starts}
        format={count}
        series={[
          { name: 'input', tone: 'a', values: perBucket('inputTokens'), area: true },
          { name: 'output', tone: 'b', values: perBucket('outputTokens'), area: true },
        ]}
      />
    </div>
  );
}

export function Overview() {
  const overview = useOverview();
  const ts = useTimeseries();
  return (
    <section aria-labelledby="overview-h">
      <h1 id="overview-h">Overview</h1>
      <QueryView query={overview}>
        {(o) => (
          <>
            <Tiles o={o} />
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
        )}
      </QueryView>
      <h2>Last 30 minutes</h2>
      <QueryView query={ts}>{(data) => <Charts ts={data} />}</QueryView>
    </section>
  );
}
