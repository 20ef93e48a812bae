/**
 * The explorer's export (`GET <admin>/api/requests?format=csv|json`,
 * docs/dashboard.md#api): every kept request that matches the filter, in the
 * chosen sort, as a download. CSV cells that a spreadsheet would run as a
 * formula (starting with = + - @, tab or CR) are prefixed with `'`: model
 * names and request ids come from clients.
 */
import type { RequestRecord, RequestsResponse } from '@sipp/shared';

const COLUMNS = [
  'time',
  'requestId',
  'api',
  'operation',
  'model',
  'target',
  'group',
  'reason',
  'caller',
  'keyId',
  'client',
  'status',
  'code',
  'upstreamStatus',
  'durationMs',
  'ttftMs',
  'inputTokens',
  'outputTokens',
  'costUsd',
  'stream',
  'attempts',
  'traceId',
] as const;

/** One CSV cell (RFC 4180 quoting, formula guard on text). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The attempts in one cell: `target status [upstream] latency ms [+backoff] [error]`, in time order. */
function attemptsCell(r: RequestRecord): string {
  return r.attempts
    .map(
      (a) =>
        `${a.target} ${a.status}` +
        (a.upstreamStatus !== null ? ` upstream ${a.upstreamStatus}` : '') +
        ` ${a.latencyMs}ms` +
        (a.backoffMs > 0 ? ` after ${a.backoffMs}ms backoff` : '') +
        (a.error ? ` ${a.error}` : ''),
    )
    .join('; ');
}

export function requestsCsv(requests: RequestRecord[]): string {
  const lines = [COLUMNS.join(',')];
  for (const r of requests) {
    lines.push(
      COLUMNS.map((c) => csvCell(c === 'time' ? new Date(r.time).toISOString() : c === 'attempts' ? attemptsCell(r) : r[c])).join(
        ',',
      ),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

export function exportFileName(format: 'csv' | 'json', now = Date.now()): string {
  return `sipp-requests-${new Date(now).toISOString().replace(/[:.]/g, '-')}.${format}`;
}

export type RequestsExport = Omit<RequestsResponse, 'nextCursor'>;
