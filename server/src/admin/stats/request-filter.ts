/**
 * The request explorer's filters (`GET requests?…`), parsed from the query
 * string into one predicate over RequestRecords. Every filter is optional;
 * several combine with AND. Unknown values of closed sets are a 400.
 */
import {
  EXPLORER_CAPACITY,
  OPERATIONS,
  REQUEST_EXPORT_FORMATS,
  REQUEST_SORTS,
  STATUS_CLASSES,
  type RequestExportFormat,
  type RequestRecord,
  type RequestSort,
  type StatusClass,
} from '@sipp/shared';
import { AdminError } from '../../errors.js';
import { normalizeIp } from '../../security/blocklist.js';
import type { PageCursor } from './recent-requests.js';

export interface RequestFilter {
  keep(r: RequestRecord): boolean;
  limit: number;
  /** `sort=time|duration|ttft` (default time: newest first). */
  sort: RequestSort;
  /** `cursor=` from the previous page's `nextCursor`; null for the first page. */
  cursor: PageCursor | null;
  /** `format=csv|json`: an export of every matching request (no paging); null for the explorer's page. */
  format: RequestExportFormat | null;
}

/** The opaque `nextCursor`: the sort, and the sort key and sequence number of the page's last row. */
export function encodeCursor(c: PageCursor): string {
  return Buffer.from(`${c.sort}:${c.value}:${c.seq}`).toString('base64url');
}

function decodeCursor(text: string, sort: RequestSort): PageCursor {
  const [s, v, q, extra] = Buffer.from(text, 'base64url').toString('utf8').split(':');
  const value = Number(v);
  const seq = Number(q);
  if (extra !== undefined || s !== sort || v === '' || !Number.isFinite(value) || !Number.isInteger(seq) || seq < 1) {
    throw new AdminError(
      'invalid_request',
      'cursor: not a cursor of this sort (pass nextCursor back with the same filter and sort)',
    );
  }
  return { sort, value, seq };
}

const MAX_TEXT = 200;

function matchesClass(status: number, cls: StatusClass): boolean {
  switch (cls) {
    case '2xx':
      return status >= 200 && status < 300;
    case '3xx':
      return status >= 300 && status < 400;
    case '4xx':
      return status >= 400 && status < 500 && status !== 429;
    case '429':
      return status === 429;
    case '5xx':
      return status >= 500;
  }
}

type Query = Record<string, string | string[] | undefined>;

function one(query: Query, name: string): string | null {
  const v = query[name];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === '') return null;
  if (s.length > MAX_TEXT) throw new AdminError('invalid_request', `${name}: too long`);
  return s;
}

function epoch(query: Query, name: string): number | null {
  const s = one(query, name);
  if (s === null) return null;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new AdminError('invalid_request', `${name}: must be epoch milliseconds`);
  return n;
}

export function parseRequestFilter(query: Query): RequestFilter {
  const status = one(query, 'status');
  if (status !== null && !(STATUS_CLASSES as readonly string[]).includes(status)) {
    throw new AdminError('invalid_request', `status: must be one of ${STATUS_CLASSES.join(', ')}`);
  }
  const operation = one(query, 'operation');
  if (operation !== null && !(OPERATIONS as readonly string[]).includes(operation)) {
    throw new AdminError('invalid_request', `operation: must be one of ${OPERATIONS.join(', ')}`);
  }
  const code = one(query, 'code');
  const reason = one(query, 'reason');
  const target = one(query, 'target');
  const group = one(query, 'group');
  const caller = one(query, 'caller');
  const clientText = one(query, 'client');
  const client = clientText === null ? null : (normalizeIp(clientText) ?? clientText);
  const q = one(query, 'q');
  const from = epoch(query, 'from');
  const to = epoch(query, 'to');
  const limitText = one(query, 'limit');
  const limit = limitText === null ? 200 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > EXPLORER_CAPACITY) {
    throw new AdminError('invalid_request', `limit: must be a whole number from 1 to ${EXPLORER_CAPACITY}`);
  }
  const sortText = one(query, 'sort') ?? 'time';
  if (!(REQUEST_SORTS as readonly string[]).includes(sortText)) {
    throw new AdminError('invalid_request', `sort: must be one of ${REQUEST_SORTS.join(', ')}`);
  }
  const sort = sortText as RequestSort;
  const format = one(query, 'format');
  if (format !== null && !(REQUEST_EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new AdminError('invalid_request', `format: must be one of ${REQUEST_EXPORT_FORMATS.join(', ')}`);
  }
  const cursorText = one(query, 'cursor');
  const cursor = cursorText === null ? null : decodeCursor(cursorText, sort);
  // "-" selects the empty value: no target reached / not authenticated.
  const nullable = (want: string, got: string | null) => (want === '-' ? got === null : got === want);
  return {
    limit,
    sort,
    cursor,
    format: format as RequestExportFormat | null,
    keep: (r) =>
      (status === null || matchesClass(r.status, status as StatusClass)) &&
      (code === null || r.code === code) &&
      (reason === null || nullable(reason, r.reason)) &&
      (operation === null || r.operation === operation) &&
      (target === null || nullable(target, r.target)) &&
      (group === null || nullable(group, r.group)) &&
      (caller === null || nullable(caller, r.caller)) &&
      (client === null || r.client === client) &&
      (q === null || r.requestId.startsWith(q)) &&
      (from === null || r.time >= from) &&
      (to === null || r.time < to),
  };
}
