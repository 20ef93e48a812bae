/**
 * The request explorer's filters (`GET requests?…`), parsed from the query
 * string into one predicate over RequestRecords. Every filter is optional;
 * several combine with AND. Unknown values of closed sets are a 400.
 */
import { EXPLORER_CAPACITY, OPERATIONS, STATUS_CLASSES, type RequestRecord, type StatusClass } from '@sipp/shared';
import { AdminError } from '../../errors.js';
import { normalizeIp } from '../../security/blocklist.js';

export interface RequestFilter {
  keep(r: RequestRecord): boolean;
  limit: number;
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
  const target = one(query, 'target');
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
  // "-" selects the empty value: no target reached / not authenticated.
  const nullable = (want: string, got: string | null) => (want === '-' ? got === null : got === want);
  return {
    limit,
    keep: (r) =>
      (status === null || matchesClass(r.status, status as StatusClass)) &&
      (code === null || r.code === code) &&
      (operation === null || r.operation === operation) &&
      (target === null || nullable(target, r.target)) &&
      (caller === null || nullable(caller, r.caller)) &&
      (client === null || r.client === client) &&
      (q === null || r.requestId.startsWith(q)) &&
      (from === null || r.time >= from) &&
      (to === null || r.time < to),
  };
}
