/** Display helpers. */
const nf = new Intl.NumberFormat('en-US');
const compactNf = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export const num = (n: number): string => nf.format(n);
export const compact = (n: number): string => (Math.abs(n) < 10_000 ? nf.format(n) : compactNf.format(n));

export function pct(rate: number): string {
  if (rate === 0) return '0%';
  const v = rate * 100;
  return `${v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : v.toFixed(0)}%`;
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
  return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

export function ago(epochMs: number | null, now = Date.now()): string {
  if (epochMs === null) return 'never';
  const s = Math.max(0, Math.round((now - epochMs) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(epochMs).toLocaleString();
}

export const clock = (epochMs: number): string =>
  new Date(epochMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function statusClass(status: number): 'ok' | 'warn' | 'bad' {
  if (status < 400) return 'ok';
  if (status < 500) return 'warn';
  return 'bad';
}

/** Per-second rates: 2 significant decimals under 10, whole numbers above. */
export function rate(v: number): string {
  if (v === 0) return '0';
  if (v < 0.01) return '<0.01';
  if (v < 10) return v.toFixed(2);
  return compact(Math.round(v));
}

export const WINDOWS = ['1m', '5m', '15m', '1h'] as const;
export const RANGES = ['15m', '1h', '6h', '24h'] as const;

/** US dollars: cents, four decimals under one cent (token prices are small), "$0" for nothing. */
export function usd(v: number): string {
  if (v === 0) return '$0';
  if (Math.abs(v) >= 10_000) return `$${compact(Math.round(v))}`;
  return `$${v.toFixed(Math.abs(v) >= 0.01 ? 2 : 4)}`;
}
