/**
 * Spend (docs/dashboard.md#views): cost and tokens over time by caller, key,
 * target or model from the usage database's rollups, the top spenders, budget
 * burn-down for every caller and key that has a budget, and the CSV export of
 * the raw rows. Needs `[database]`; without it the view says so.
 */
import { useQueries } from '@tanstack/react-query';
import type { Budget, SpendResponse, SpendRow } from '@sipp/shared';
import { ApiError, BASE_PATH, api } from '../api/client';
import { useRoutes, useSpend } from '../api/hooks';
import { Chart, type Series } from '../components/Chart';
import { Segmented } from '../components/Segmented';
import { Sparkline } from '../components/Sparkline';
import { Empty, ErrorState, Loading } from '../components/States';
import { Tile } from '../components/Tile';
import { compact, num, pct, usd } from '../format';
import { useChoice } from '../router';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const SPEND_RANGES = ['24h', '7d', '30d', 'month'] as const;
type SpendRange = (typeof SPEND_RANGES)[number];
const DIMENSIONS = ['caller', 'key', 'target', 'model'] as const;
type Dimension = (typeof DIMENSIONS)[number];
const DIMENSION_LABEL: Record<Dimension, string> = { caller: 'Caller', key: 'Key', target: 'Target', model: 'Model' };

const TONES: Series['tone'][] = ['a', 'b', 'c', 'warn'];
const TOP_SERIES = TONES.length;

function rangeOf(r: SpendRange, now: number): { from: number; interval: 'hour' | 'day'; bucketMs: number } {
  if (r === '24h') return { from: Math.floor((now - DAY) / HOUR) * HOUR + HOUR, interval: 'hour', bucketMs: HOUR };
  if (r === 'month') {
    const d = new Date(now);
    return { from: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), interval: 'day', bucketMs: DAY };
  }
  const days = r === '7d' ? 7 : 30;
  return { from: Math.floor(now / DAY) * DAY - (days - 1) * DAY, interval: 'day', bucketMs: DAY };
}

const label = (dim: Dimension | 'day', group: string) =>
  group === '' ? (dim === 'caller' ? '(unauthenticated)' : dim === 'key' ? '(config token)' : '(none)') : group;

/** Cost and tokens per bucket for the top groups (the rest summed as "other"). */
function OverTime({
  rows,
  top,
  dim,
  from,
  now,
  bucketMs,
}: {
  rows: SpendRow[];
  top: string[];
  dim: Dimension;
  from: number;
  now: number;
  bucketMs: number;
}) {
  const starts: number[] = [];
  for (let t = from; t <= now; t += bucketMs) starts.push(t);
  const index = new Map(starts.map((t, i) => [t, i]));
  const shown = top.slice(0, TOP_SERIES);
  const names = [...shown, ...(top.length > TOP_SERIES ? ['other'] : [])];
  const cost = names.map(() => new Array<number>(starts.length).fill(0));
  const tokens = names.map(() => new Array<number>(starts.length).fill(0));
  for (const r of rows) {
    const i = index.get(r.time ?? -1);
    if (i === undefined) continue;
    const s = shown.indexOf(r.group);
    const k = s >= 0 ? s : names.length - 1;
    if (s < 0 && names.at(-1) !== 'other') continue;
    cost[k]![i]! += r.cost_usd;
    tokens[k]![i]! += r.input_tokens + r.output_tokens;
  }
  const series = (values: number[][]): Series[] =>
    names.map((n, k) => ({
      name: k < shown.length ? label(dim, n) : 'other',
      tone: k < shown.length ? TONES[k]! : 'bad',
      values: values[k]!,
    }));
  const per = bucketMs === HOUR ? 'hour' : 'day';
  return (
    <>
      <Chart
        testId="chart-spend-cost"
        title={`Cost per ${per} by ${DIMENSION_LABEL[dim].toLowerCase()}`}
        unit="USD"
        bucketMs={bucketMs}
        starts={starts}
        format={usd}
        series={series(cost)}
      />
      <Chart
        testId="chart-spend-tokens"
        title={`Tokens per ${per} by ${DIMENSION_LABEL[dim].toLowerCase()}`}
        unit="tokens"
        bucketMs={bucketMs}
        starts={starts}
        format={compact}
        series={series(tokens)}
      />
    </>
  );
}

function TopSpenders({ rows, dim, total }: { rows: SpendRow[]; dim: Dimension; total: number }) {
  if (rows.length === 0) return <Empty>No usage in this range.</Empty>;
  return (
    <div className="table-wrap">
      <table data-testid="spend-table">
        <caption>Top spenders by {DIMENSION_LABEL[dim].toLowerCase()}, largest cost first</caption>
        <thead>
          <tr>
            <th scope="col">{DIMENSION_LABEL[dim]}</th>
            <th scope="col" className="num">
              Requests
            </th>
            <th scope="col" className="num">
              Tokens in
            </th>
            <th scope="col" className="num">
              Tokens out
            </th>
            <th scope="col" className="num">
              Cost
            </th>
            <th scope="col" className="num">
              Share
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 50).map((r) => (
            <tr key={r.group} data-testid={`spend-row-${r.group || '-'}`}>
              <th scope="row">{r.group === '' ? <span className="muted">{label(dim, '')}</span> : r.group}</th>
              <td className="num">{num(r.requests)}</td>
              <td className="num">{compact(r.input_tokens)}</td>
              <td className="num">{compact(r.output_tokens)}</td>
              <td className="num">{usd(r.cost_usd)}</td>
              <td className="num">{total > 0 ? pct(r.cost_usd / total) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// ---------------------------------------------------------------- budgets

/** The start and end (exclusive) of a budget's current calendar UTC period; `total` has no end. */
export function periodOf(period: Budget['period'], now: number): { start: number; end: number | null } {
  const d = new Date(now);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  switch (period) {
    case 'day':
      return { start: day, end: day + DAY };
    case 'week': {
      const start = day - ((d.getUTCDay() + 6) % 7) * DAY; // weeks start on Monday (ISO 8601)
      return { start, end: start + 7 * DAY };
    }
    case 'month':
      return {
        start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
        end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
      };
    case 'total':
      return { start: 0, end: null };
  }
}

interface Budgeted {
  kind: 'caller' | 'key';
  /** Caller label or key id. */
  id: string;
  name: string;
  budget: Budget;
  /** What running requests hold until they settle (`reserved` of GET callers/{c}/budget or of the key in GET keys, docs/budgets.md#reservations). */
  reserved: { usd: number; tokens: number } | null;
}

const isBudget = (v: unknown): v is Budget =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Budget).period === 'string' &&
  (typeof (v as Budget).usd === 'number' || typeof (v as Budget).tokens === 'number');

const isReserved = (v: unknown): v is { usd: number; tokens: number } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { usd?: unknown }).usd === 'number' &&
  typeof (v as { tokens?: unknown }).tokens === 'number';

/** `GET callers/{c}/budget` answers the budget (or `{budget}`); 404 / null = none. */
function budgetFrom(body: unknown): Budget | null {
  if (isBudget(body)) return body;
  const inner = (body as { budget?: unknown } | null)?.budget;
  return isBudget(inner) ? inner : null;
}

async function optional<T>(path: string): Promise<T | null> {
  try {
    return await api<T>('GET', path);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 400)) return null;
    throw err;
  }
}

function useBudgets(callers: string[]): Budgeted[] {
  const results = useQueries({
    queries: [
      ...callers.map((c) => ({
        queryKey: ['budget', c],
        queryFn: () => optional<unknown>(`callers/${encodeURIComponent(c)}/budget`),
        // `reserved` moves with every request in flight: refreshed more often than the rollups.
        refetchInterval: 5_000,
        retry: false,
      })),
      // Keys carry their `reserved` too: refreshed as often as the caller budgets.
      { queryKey: ['keys'], queryFn: () => optional<unknown>('keys'), refetchInterval: 5_000, retry: false },
    ],
  });
  const out: Budgeted[] = [];
  callers.forEach((c, i) => {
    const b = budgetFrom(results[i]?.data);
    const reserved = (results[i]?.data as { reserved?: unknown } | null | undefined)?.reserved;
    if (b) out.push({ kind: 'caller', id: c, name: c, budget: b, reserved: isReserved(reserved) ? reserved : null });
  });
  const keysBody = results.at(-1)?.data as { keys?: unknown[] } | unknown[] | null | undefined;
  const keys = Array.isArray(keysBody) ? keysBody : Array.isArray(keysBody?.keys) ? keysBody.keys : [];
  for (const k of keys as Array<{
    id?: unknown;
    name?: unknown;
    budget?: unknown;
    limits?: { budget?: unknown };
    reserved?: unknown;
  }>) {
    const b = isBudget(k.budget) ? k.budget : isBudget(k.limits?.budget) ? k.limits.budget : null;
    if (b && typeof k.id === 'string')
      out.push({
        kind: 'key',
        id: k.id,
        name: typeof k.name === 'string' ? k.name : k.id,
        budget: b,
        reserved: isReserved(k.reserved) ? k.reserved : null,
      });
  }
  return out;
}

function BurnDownRow({ b, now }: { b: Budgeted; now: number }) {
  const { start, end } = periodOf(b.budget.period, now);
  const spend = useSpend(`group_by=day&${b.kind}=${encodeURIComponent(b.id)}&from=${start}&to=${now}`);
  const rows = spend.data?.rows ?? [];
  const usdSpent = rows.reduce((n, r) => n + r.cost_usd, 0);
  const tokensSpent = rows.reduce((n, r) => n + r.input_tokens + r.output_tokens, 0);
  const limits: Array<{ what: 'USD' | 'tokens'; limit: number; spent: number; reserved: number | null }> = [];
  if (b.budget.usd !== undefined)
    limits.push({ what: 'USD', limit: b.budget.usd, spent: usdSpent, reserved: b.reserved?.usd ?? null });
  if (b.budget.tokens !== undefined)
    limits.push({ what: 'tokens', limit: b.budget.tokens, spent: tokensSpent, reserved: b.reserved?.tokens ?? null });
  // Remaining budget at the end of each day of the period so far (the burn-down line).
  let cumulative = 0;
  const first = limits[0];
  const remaining = rows.map((r) => {
    cumulative += first?.what === 'tokens' ? r.input_tokens + r.output_tokens : r.cost_usd;
    return Math.max(0, (first?.limit ?? 0) - cumulative);
  });
  const elapsed = end === null ? null : Math.min(1, (now - start) / (end - start));
  return (
    <>
      {limits.map((l) => {
        const share = l.limit > 0 ? l.spent / l.limit : 1;
        const projected = elapsed && elapsed > 0 ? l.spent / elapsed : null;
        const tone = share >= 1 ? 'bad' : share >= 0.8 ? 'warn' : 'ok';
        const fmt = (v: number) => (l.what === 'USD' ? usd(v) : compact(Math.round(v)));
        return (
          <tr key={l.what} data-testid={`budget-${b.kind}-${b.id}-${l.what}`}>
            <th scope="row">
              <span className="pill">{b.kind}</span> {b.name}
            </th>
            <td>{b.budget.period}</td>
            <td className="num">{fmt(l.limit)}</td>
            <td className="num">{spend.isPending ? '…' : fmt(l.spent)}</td>
            <td className="num" data-testid="reserved">
              {l.reserved === null ? '—' : fmt(l.reserved)}
            </td>
            <td className="num">{fmt(Math.max(0, l.limit - l.spent))}</td>
            <td>
              <meter
                className={`budget-meter budget-${tone}`}
                min={0}
                max={1}
                low={0.8}
                high={0.99}
                optimum={0}
                value={Math.min(1, share)}
                aria-label={`${b.name}: ${pct(share)} of the ${b.budget.period} budget used`}
              />{' '}
              <span className={tone === 'ok' ? undefined : `${tone}-text`}>{pct(share)}</span>
            </td>
            <td>
              {l === first && remaining.length > 1 ? <Sparkline values={remaining} tone={tone === 'bad' ? 'bad' : 'a'} /> : '—'}
            </td>
            <td className="num">{projected === null ? '—' : fmt(projected)}</td>
          </tr>
        );
      })}
    </>
  );
}

function BurnDown({ callers, now }: { callers: string[]; now: number }) {
  const budgets = useBudgets(callers);
  if (budgets.length === 0)
    return <Empty>No caller or key has a budget. Set one on the Keys view or with PUT callers/&#123;caller&#125;/budget.</Empty>;
  return (
    <div className="table-wrap">
      <table data-testid="budget-table">
        <caption>Spend so far in each budget&apos;s current period (calendar UTC)</caption>
        <thead>
          <tr>
            <th scope="col">Who</th>
            <th scope="col">Period</th>
            <th scope="col" className="num">
              Budget
            </th>
            <th scope="col" className="num">
              Spent
            </th>
            <th scope="col" className="num" title="Held by running requests until they settle">
              Reserved
            </th>
            <th scope="col" className="num">
              Left
            </th>
            <th scope="col">Used</th>
            <th scope="col">Burn-down</th>
            <th scope="col" className="num">
              Projected
            </th>
          </tr>
        </thead>
        <tbody>
          {budgets.map((b) => (
            <BurnDownRow key={`${b.kind}:${b.id}`} b={b} now={now} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

// ---------------------------------------------------------------- the view

export function Spend() {
  const [range, setRange] = useChoice<SpendRange>('range', SPEND_RANGES, '7d');
  const [dim, setDim] = useChoice<Dimension>('by', DIMENSIONS, 'caller');
  // One "now" per minute keeps the query keys stable between refreshes.
  const now = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  const { from, interval, bucketMs } = rangeOf(range, now);
  const totals = useSpend(`group_by=${dim}&from=${from}&to=${now}`);
  const series = useSpend(`group_by=${dim}&interval=${interval}&from=${from}&to=${now}`);
  const routes = useRoutes();
  const callers = (routes.data?.callers ?? []).map((c) => c.caller);
  const exportHref = (format: 'csv' | 'json') => `${BASE_PATH}/api/usage?format=${format}&from=${from}&to=${now}`;

  const head = (
    <div className="view-head">
      <h1 id="spend-h">Spend</h1>
      <Segmented label="Range" options={SPEND_RANGES} value={range} onChange={setRange} />
      <Segmented label="Group by" options={DIMENSIONS} value={dim} onChange={setDim} />
      <a className="btn btn-ghost btn-small" href={exportHref('csv')} download data-testid="export-csv">
        Export CSV
      </a>
    </div>
  );
  if (totals.isPending)
    return (
      <section aria-labelledby="spend-h">
        {head}
        <Loading />
      </section>
    );
  if (totals.data === undefined) {
    const off = totals.error instanceof ApiError && totals.error.status === 404;
    return (
      <section aria-labelledby="spend-h">
        {head}
        {off ? (
          <Empty>
            Usage history is off: add a <code>[database]</code> table to the configuration to keep one row per request and see
            spend here (docs/usage.md).
          </Empty>
        ) : (
          <ErrorState error={totals.error} retry={() => void totals.refetch()} />
        )}
      </section>
    );
  }
  const data: SpendResponse = totals.data;
  const sum = (f: (r: SpendRow) => number) => data.rows.reduce((n, r) => n + f(r), 0);
  const total = sum((r) => r.cost_usd);
  return (
    <section aria-labelledby="spend-h">
      {head}
      {totals.error ? (
        <div className="stale-banner" role="status">
          Live updates paused: {totals.error instanceof ApiError ? totals.error.message : 'error'} — showing the last data.
        </div>
      ) : null}
      <div className="tiles" data-testid="spend-tiles">
        <Tile
          label="Cost"
          value={usd(total)}
          hint={`since ${new Date(data.from).toISOString().slice(0, 16).replace('T', ' ')} UTC`}
        />
        <Tile label="Requests" value={num(sum((r) => r.requests))} />
        <Tile label="Tokens in" value={compact(sum((r) => r.input_tokens))} />
        <Tile label="Tokens out" value={compact(sum((r) => r.output_tokens))} />
      </div>
      {series.data && (
        <OverTime
          rows={series.data.rows}
          top={data.rows.map((r) => r.group)}
          dim={dim}
          from={from}
          now={now - 60_000}
          bucketMs={bucketMs}
        />
      )}
      <h2>Top spenders</h2>
      <TopSpenders rows={data.rows} dim={dim} total={total} />
      <h2>Budgets</h2>
      <BurnDown callers={callers} now={now} />
    </section>
  );
}
