/**
 * A small dependency-free SVG line/area chart for the 10 s timeseries. The
 * SVG scales to its container (viewBox + non-scaling strokes); labels are
 * HTML so they stay crisp. No inline styles (CSP): colours come from classes.
 */
import { useId } from 'react';
import { clock } from '../format';

export interface Series {
  name: string;
  /** CSS class suffix: series-a, series-b, series-bad... */
  tone: 'a' | 'b' | 'bad';
  values: Array<number | null>;
  area?: boolean;
}

const W = 600;
const H = 160;

function path(values: Array<number | null>, max: number): string {
  const n = values.length;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = n <= 1 ? 0 : (i / (n - 1)) * W;
    const y = H - (v / max) * (H - 4) - 2;
    // Every new sub-path gets a zero-length segment so isolated points render as dots (round caps).
    d += pen ? `L${x.toFixed(1)},${y.toFixed(1)}` : `M${x.toFixed(1)},${y.toFixed(1)}l0.01,0`;
    pen = true;
  });
  return d;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function LineChart({
  title,
  series,
  starts,
  format,
  summary,
}: {
  title: string;
  series: Series[];
  starts: number[];
  format: (v: number) => string;
  summary?: string;
}) {
  const id = useId();
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const empty = series.every((s) => s.values.every((v) => v === null || v === 0));
  return (
    <figure className="chart" aria-labelledby={`${id}-t`}>
      <figcaption id={`${id}-t`} className="chart-head">
        <span className="chart-title">{title}</span>
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
        <div className="chart-y">
          <span>{format(max)}</span>
          <span>{format(max / 2)}</span>
          <span>0</span>
        </div>
        <div className="chart-plot">
          <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${title} over the last 30 minutes`}>
            <line className="grid" x1="0" x2={W} y1={H / 2} y2={H / 2} />
            <line className="grid" x1="0" x2={W} y1={H - 1} y2={H - 1} />
            {series.map((s) => {
              const d = path(s.values, max);
              if (!d) return null;
              return (
                <g key={s.name} className={`series series-${s.tone}`}>
                  {s.area && <path className="area" d={`${d}L${W},${H}L0,${H}Z`} />}
                  <path className="line" d={d} vectorEffect="non-scaling-stroke" />
                </g>
              );
            })}
          </svg>
          {empty && <div className="chart-empty">No traffic in the last 30 minutes</div>}
        </div>
      </div>
      <div className="chart-x">
        <span>{starts.length ? clock(starts[0]!) : ''}</span>
        <span>{starts.length ? clock(starts[Math.floor(starts.length / 2)]!) : ''}</span>
        <span>now</span>
      </div>
    </figure>
  );
}
