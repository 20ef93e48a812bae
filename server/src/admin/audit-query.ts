/**
 * `GET audit?action=&logins=show|hide&format=json|csv` (docs/dashboard.md#audit-log):
 * the audit log filtered by action, with sign-ins and sign-outs optionally
 * hidden, as the JSON document or as a download (JSON or CSV) of exactly the
 * filtered list. Action names are not a closed set (new controls add their
 * own), so an unknown name is no error: it matches nothing.
 */
import type { Context } from 'koa';
import { AUDIT_LOGIN_ACTIONS, type AuditEntry, type AuditResponse } from '@sipp/shared';
import { AdminError } from '../errors.js';
import type { AuditLog } from './audit-log.js';
import { csvDocument } from './http/csv.js';

type Query = Record<string, string | string[] | undefined>;

const ACTION = /^[a-z][a-z0-9_.-]{0,63}$/;
const LOGINS: ReadonlySet<string> = new Set(AUDIT_LOGIN_ACTIONS);

function one(query: Query, name: string): string | null {
  const v = query[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s;
}

export interface AuditQuery {
  actions: ReadonlySet<string> | null;
  hideLogins: boolean;
  format: 'json' | 'csv' | null;
}

export function parseAuditQuery(query: Query): AuditQuery {
  const action = one(query, 'action');
  let actions: Set<string> | null = null;
  if (action !== null) {
    const names = action.split(',').map((a) => a.trim());
    if (names.length > 32 || names.some((a) => !ACTION.test(a))) {
      throw new AdminError(
        'invalid_request',
        'action: must be action names separated by commas (e.g. target.drain,target.release)',
      );
    }
    actions = new Set(names);
  }
  const logins = one(query, 'logins') ?? 'show';
  if (logins !== 'show' && logins !== 'hide') throw new AdminError('invalid_request', 'logins: must be one of show, hide');
  const format = one(query, 'format');
  if (format !== null && format !== 'json' && format !== 'csv') {
    throw new AdminError('invalid_request', 'format: must be one of json, csv');
  }
  return { actions, hideLogins: logins === 'hide', format };
}

export function auditView(audit: AuditLog, q: AuditQuery): AuditResponse {
  const all = audit.list();
  const entries = all.filter((e) => (!q.hideLogins || !LOGINS.has(e.action)) && (q.actions === null || q.actions.has(e.action)));
  return { entries, kept: all.length, capacity: audit.capacity, actions: [...new Set(all.map((e) => e.action))].sort() };
}

const CSV_COLUMNS = ['time', 'action', 'reason', 'before', 'after', 'session', 'client'] as const;

function csvRow(e: AuditEntry): Array<string | null> {
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  return [new Date(e.time).toISOString(), e.action, e.reason, json(e.before), json(e.after), e.session, e.client];
}

/** Answers the audit route: the document, or with `format` a download of the same entries. */
export function answerAudit(ctx: Context, audit: AuditLog): unknown {
  const q = parseAuditQuery(ctx.query);
  const view = auditView(audit, q);
  if (q.format === null) return view;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  ctx.set('Content-Disposition', `attachment; filename="sipp-audit-${stamp}.${q.format}"`);
  if (q.format === 'json') {
    ctx.type = 'application/json';
    return view;
  }
  ctx.type = 'text/csv; charset=utf-8';
  return csvDocument(CSV_COLUMNS, view.entries.map(csvRow));
}
