/**
 * A small dependency-free SVG chart for the timeseries: units on both axes,
 * a hover/focus tooltip with the exact values and time, an optional log
 * scale (latency: p50 stays visible under a p99 spike), an optional click
 * action per bucket (open the explorer there) and a collapsible table with
 * the numbers for screen readers. Colours come from classes (strict CSP);
 * the tooltip is positioned through the CSSOM, which the CSP allows.
 */
import { useId, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { clock } from '../format';

export interface Series {
  name: string;
  /** CSS class suffix: series-a, series-b, series-c, series-warn, series-bad. */
  tone: 'a' | 'b' | 'c' | 'warn' | 'bad';
  values: Array<number | null>;
  area?: boolean;
}

const W = 600;
const H = 160;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Scale {
  y(v: number): number;
  ticks: number[];
}

function linear(max: number): Scale {
  const top = niceMax(max);
  return { y: (v) => H - (v / top) * (H - 4) - 2, ticks: [top, top / 2, 0] };
}

function logarithmic(min: number, max: number): Scale {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return linear(1);
  const lo = Math.floor(Math.log10(Math.max(min, 0.01)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, 0.01))));
  const y = (v: number) => H - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (H - 4) - 2;
  const ticks: number[] = [];
  for (let e = hi; e >= lo; e--) ticks.push(10 ** e);
  return { y, ticks: ticks.length > 4 ? [ticks[0]!, ticks[Math.floor(ticks.length / 2)]!, ticks.at(-1)!] : ticks };
}

function path(values: Array<number | null>, scale: Scale): string {
  const n = values.length;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = n <= 1 ? 0 : (i / (n - 1)) * W;
    const y = scale.y(v);
    // Every new sub-path gets a zero-length segment so isolated points render as dots (round caps).
    d += pen ? `L${x.toFixed(1)},${y.toFixed(1)}` : `M${x.toFixed(1)},${y.toFixed(1)}l0.01,0`;
    pen = true;
  });
  return d;
}

export function Chart({
  title,
  unit,
  series,
  starts,
  bucketMs,
  format,
  summary,
  log = false,
  onSelect,
  selectLabel = 'Open these requests',
  testId,
}: {
  title: string;
  /** Unit of the y axis, e.g. "req/s". */
  unit: string;
  series: Series[];
  starts: number[];
  bucketMs: number;
  format: (v: number) => string;
  summary?: string;
  log?: boolean;
  onSelect?: (index: number) => void;
  selectLabel?: string;
  testId?: string;
}) {
  const id = useId();
  const [hover, setHover] = useState<number | null>(null);
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const positive = all.filter((v) => v > 0);
  const scale = log
    ? logarithmic(positive.length ? Math.min(...positive) : 1, positive.length ? Math.max(...positive) : 10)
    : linear(Math.max(0, ...all));
  const empty = all.every((v) => v === 0);
  const n = starts.length;

  const indexAt = (e: MouseEvent<HTMLDivElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    return Math.max(0, Math.min(n - 1, Math.round(((e.clientX - r.left) / r.width) * (n - 1))));
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'ArrowLeft') setHover((h) => Math.max(0, (h ?? n) - 1));
    else if (e.key === 'ArrowRight') setHover((h) => Math.min(n - 1, (h ?? -1) + 1));
    else if ((e.key === 'Enter' || e.key === ' ') && hover !== null && onSelect) {
      e.preventDefault();
      onSelect(hover);
    } else return;
    e.preventDefault();
  };
  const hx = hover === null || n <= 1 ? 0 : (hover / (n - 1)) * W;
  const rows = starts.map((s, i) => ({ s, i })).filter(({ i }) => series.some((x) => (x.values[i] ?? 0) > 0));

  return (
    <figure className="chart" aria-labelledby={`${id}-t`} data-testid={testId}>
      <figcaption id={`${id}-t`} className="chart-head">
        <span className="chart-title">
          {title} <span className="chart-unit">({unit})</span>
        </span>
        {summary && <span className="chart-summary">{summary}</span>}
        <span className="chart-legend">
          {series.map((s) => (
            <span key={s.name} className={`legend legend-${s.tone}`}>
              {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      <div className="chart-body">
        <div className="chart-y" aria-hidden="true">
          {scale.ticks.map((t, i) => (
            <span key={i}>{t === 0 ? `0 ${unit}` : `${format(t)}`}</span>
          ))}
        </div>
        <div
          className={`chart-plot${onSelect ? ' chart-clickable' : ''}`}
          tabIndex={0}
          role="group"
          aria-label={`${title} chart. Arrow keys read the buckets${onSelect ? `, Enter opens the requests of the bucket` : ''}.`}
          onMouseMove={(e) => setHover(indexAt(e))}
          onMouseLeave={() => setHover(null)}
          onBlur={() => setHover(null)}
          onKeyDown={onKey}
          onClick={(e) => onSelect?.(indexAt(e))}
        >
          <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" aria-hidden="true">
            <line className="grid" x1="0" x2={W} y1={H / 2} y2={H / 2} />
            <line className="grid" x1="0" x2={W} y1={H - 1} y2={H - 1} />
            {series.map((s) => {
              const d = path(s.values, scale);
              if (!d) return null;
              return (
                <g key={s.name} className={`series series-${s.tone}`}>
                  {s.area && <path className="area" d={`${d}L${W},${H}L0,${H}Z`} />}
                  <path className="line" d={d} vectorEffect="non-scaling-stroke" />
                </g>
              );
            })}
            {hover !== null && <line className="cursor" x1={hx} x2={hx} y1={0} y2={H} vectorEffect="non-scaling-stroke" />}
          </svg>
          {empty && <div className="chart-empty">No traffic in this range</div>}
          {hover !== null && (
            <div
              className={`chart-tip${hover > n / 2 ? ' chart-tip-left' : ''}`}
              style={{ left: `${(hover / Math.max(1, n - 1)) * 100}%` }}
              role="status"
              data-testid="chart-tooltip"
            >
              <strong>{clock(starts[hover]!)}</strong>
              <span className="muted">
                {' '}
                · {bucketMs / 1000 >= 60 ? `${bucketMs / 60_000} min` : `${bucketMs / 1000} s`} bucket
              </span>
              {series.map((s) => (
                <div key={s.name}>
                  <span className={`legend legend-${s.tone}`}>{s.name}</span>:{' '}
                  {s.values[hover] === null ? '—' : `${format(s.values[hover]!)} ${unit}`}
                </div>
              ))}
              {onSelect && <div className="muted small">Click: {selectLabel.toLowerCase()}</div>}
            </div>
          )}
        </div>
      </div>
      <div className="chart-x" aria-hidden="true">
        <span>{n ? clock(starts[0]!) : ''}</span>
        <span>{n ? clock(starts[Math.floor(n / 2)]!) : ''}</span>
        <span>now</span>
      </div>
      <details className="chart-data">
        <summary>Numbers behind the chart</summary>
        {rows.length === 0 ? (
          <p className="muted small">Every bucket is empty.</p>
        ) : (
          <div className="table-wrap">
            <table>
              <caption className="sr-only">
                {title} per bucket ({unit})
              </caption>
              <thead>
                <tr>
                  <th scope="col">Bucket start</th>
                  {series.map((s) => (
                    <th scope="col" key={s.name} className="num">
                      {s.name} ({unit})
                    </th>
                  ))}
                  {onSelect && <th scope="col">Requests</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map(({ s, i }) => (
                  <tr key={s}>
                    <th scope="row">{clock(s)}</th>
                    {series.map((x) => (
                      <td key={x.name} className="num">
                        {x.values[i] === null ? '—' : format(x.values[i]!)}
                      </td>
                    ))}
                    {onSelect && (
                      <td>
                        <button type="button" className="btn btn-small btn-ghost" onClick={() => onSelect(i)}>
                          {selectLabel}
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </details>
    </figure>
  );
}
