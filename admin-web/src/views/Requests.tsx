import { useState } from 'react';
import type { AttemptRecord, RecentRequestView } from '@sipp/shared';
import { BASE_PATH } from '../api/client';
import { useRequests } from '../api/hooks';
import { BlockAction } from '../components/BlockAction';
import { Empty, QueryView } from '../components/States';
import { clock, ms, num, statusClass } from '../format';
import { setSearch, useSearch } from '../router';

const FILTERS = ['status', 'code', 'reason', 'operation', 'target', 'group', 'caller', 'client', 'q', 'from', 'to'] as const;
const SORT_OPTIONS = [
  ['time', 'newest first'],
  ['duration', 'slowest first'],
  ['ttft', 'slowest first token first'],
] as const;
const PAGE_SIZE = 100;

/** The served (or last) attempt first, then the earlier ones, newest first (the record lists them in time order). */
function attemptsServedFirst(attempts: AttemptRecord[]): AttemptRecord[] {
  return [...attempts].reverse();
}

function Attempts({ attempts }: { attempts: AttemptRecord[] }) {
  if (attempts.length === 0) return <>none (no target was called)</>;
  return (
    <ol className="attempts" data-testid="detail-attempts">
      {attemptsServedFirst(attempts).map((a, i) => (
        <li key={i}>
          <strong>{a.target}</strong> <span className={`pill pill-${statusClass(a.status)}`}>{a.status}</span>
          {i === 0 && a.error === null && <span className="muted small"> served</span>}
          {a.upstreamStatus !== null && <span className="small"> · upstream {a.upstreamStatus}</span>}
          <span className="small"> · {ms(a.latencyMs)}</span>
          {a.backoffMs > 0 && <span className="small"> · after {ms(a.backoffMs)} backoff</span>}
          {a.error && <span className="small"> · {a.error}</span>}
        </li>
      ))}
    </ol>
  );
}
const STATUS_OPTIONS = [
  ['', 'any status'],
  ['2xx', '2xx success'],
  ['3xx', '3xx'],
  ['4xx', '4xx client error (not 429)'],
  ['429', '429 too many requests'],
  ['5xx', '5xx server error'],
] as const;
const OPERATION_OPTIONS = ['', 'query', 'chat', 'embed'] as const;

function TextFilter({ name, label, value, placeholder }: { name: string; label: string; value: string; placeholder?: string }) {
  return (
    <label>
      {label}
      <input
        name={name}
        value={value}
        placeholder={placeholder}
        onChange={(e) => setSearch({ [name]: e.target.value.trim() === '' ? null : e.target.value })}
      />
    </label>
  );
}

function CopyButton({ text, label }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      aria-label={label}
      className="btn btn-small btn-ghost"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        );
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

function Detail({ r, onClose }: { r: RecentRequestView; onClose: () => void }) {
  const rows: Array<[string, React.ReactNode]> = [
    ['Reason', <span data-testid="detail-reason">{r.reason ?? (r.status >= 400 ? '—' : 'served')}</span>],
    ['Time', new Date(r.time).toLocaleString()],
    ['Operation', r.operation ?? '—'],
    ['API surface', r.api],
    ['Target asked for', r.model ?? '—'],
    [r.attempts.length > 0 ? 'Target served' : 'Target', r.target ?? 'no target'],
    ['Group', r.group ?? '—'],
    [`Attempts (${r.attempts.length})`, <Attempts attempts={r.attempts} />],
    ['Caller', r.caller ?? 'unauthenticated'],
    ['Client', <span className="mono">{r.client}</span>],
    ['Status', `${r.status}${r.code ? ` · ${r.code}` : ''}`],
    ['Upstream status', r.upstreamStatus ?? '—'],
    ['Duration', ms(r.durationMs)],
    ['Time to first token', ms(r.ttftMs)],
    ['Tokens in / out', `${num(r.inputTokens)} / ${num(r.outputTokens)}`],
    ['Stream', r.stream ? 'yes' : 'no'],
    ...(r.traceId
      ? ([
          [
            'Trace id',
            <>
              <span className="mono">{r.traceId}</span> <CopyButton text={r.traceId} />
            </>,
          ],
        ] as Array<[string, React.ReactNode]>)
      : []),
  ];
  return (
    <aside className="card detail" aria-labelledby="detail-h" data-testid="request-detail">
      <div className="view-head">
        <h2 id="detail-h">Request</h2>
        <button type="button" className="btn btn-small btn-ghost" onClick={onClose}>
          Close
        </button>
      </div>
      <p>
        <span className="mono" data-testid="detail-id">
          {r.requestId}
        </span>{' '}
        <CopyButton text={r.requestId} />
      </p>
      {r.traceId && (
        <p className="small">
          Trace{' '}
          <span className="mono" data-testid="detail-trace-id">
            {r.traceId}
          </span>{' '}
          <CopyButton text={r.traceId} label="Copy trace id" />
        </p>
      )}
      <dl className="kv">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <BlockAction client={r.client} />
    </aside>
  );
}

export function Requests() {
  const params = useSearch();
  const [live, setLive] = useState(true);
  const [selected, setSelected] = useState<RecentRequestView | null>(null);
  const filter = new URLSearchParams();
  for (const f of FILTERS) {
    const v = params.get(f);
    if (v) filter.set(f, v);
  }
  const sort = params.get('sort') ?? 'time';
  if (sort !== 'time') filter.set('sort', sort);
  // Cursors of the pages before this one; they belong to this filter and sort only.
  const key = filter.toString();
  const [paging, setPaging] = useState<{ key: string; cursors: string[] }>({ key, cursors: [] });
  const cursors = paging.key === key ? paging.cursors : [];
  const query = new URLSearchParams(filter);
  query.set('limit', String(PAGE_SIZE));
  if (cursors.length > 0) query.set('cursor', cursors[cursors.length - 1]!);
  const requests = useRequests(query.toString(), live);
  const exportHref = (format: 'csv' | 'json') =>
    `${BASE_PATH}/api/requests?${new URLSearchParams([...filter, ['format', format]])}`;
  const get = (k: string) => params.get(k) ?? '';
  const active = FILTERS.some((f) => params.get(f));
  const page = cursors.length;
  return (
    <section aria-labelledby="requests-h">
      <div className="view-head">
        <h1 id="requests-h">Requests</h1>
        <button type="button" className="btn btn-ghost btn-small" aria-pressed={!live} onClick={() => setLive(!live)}>
          {live ? 'Pause live updates' : 'Resume live updates'}
        </button>
      </div>
      <form className="card filters" role="search" aria-label="Filter requests" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select name="status" value={get('status')} onChange={(e) => setSearch({ status: e.target.value || null })}>
            {STATUS_OPTIONS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Operation
          <select name="operation" value={get('operation')} onChange={(e) => setSearch({ operation: e.target.value || null })}>
            {OPERATION_OPTIONS.map((v) => (
              <option key={v} value={v}>
                {v || 'any operation'}
              </option>
            ))}
          </select>
        </label>
        <TextFilter name="code" label="Error code" value={get('code')} placeholder="e.g. upstream" />
        <TextFilter name="reason" label="Reason" value={get('reason')} placeholder="e.g. circuit_open" />
        <TextFilter name="target" label="Target" value={get('target')} placeholder="name, - for none" />
        <TextFilter name="group" label="Group" value={get('group')} placeholder="name, - for none" />
        <TextFilter name="caller" label="Caller" value={get('caller')} placeholder="label, - for none" />
        <TextFilter name="client" label="Client IP" value={get('client')} />
        <TextFilter name="q" label="Request id" value={get('q')} placeholder="id prefix" />
        <label>
          Sort
          <select
            name="sort"
            value={sort}
            onChange={(e) => setSearch({ sort: e.target.value === 'time' ? null : e.target.value })}
          >
            {SORT_OPTIONS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        {(get('from') || get('to')) && (
          <p className="small time-filter">
            Time: {get('from') ? clock(Number(get('from'))) : 'start'} – {get('to') ? clock(Number(get('to'))) : 'now'}{' '}
            <button type="button" className="link" onClick={() => setSearch({ from: null, to: null })}>
              any time
            </button>
          </p>
        )}
        {active && (
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => setSearch(Object.fromEntries(FILTERS.map((f) => [f, null])))}
          >
            Clear filters
          </button>
        )}
      </form>
      <div className="explorer">
        <QueryView query={requests}>
          {(data) => (
            <div className="explorer-list">
              <p className="muted small" role="status" data-testid="explorer-count">
                {num(data.matched)} of the last {num(data.kept)} requests match
                {data.matched > data.requests.length
                  ? ` (${num(page * PAGE_SIZE + 1)}–${num(page * PAGE_SIZE + data.requests.length)} shown)`
                  : ''}
                {!live && ' · paused'}
              </p>
              <div className="explorer-tools">
                <button
                  type="button"
                  className="btn btn-small btn-ghost"
                  disabled={page === 0}
                  onClick={() => setPaging({ key, cursors: cursors.slice(0, -1) })}
                >
                  Previous page
                </button>
                <span className="small" data-testid="explorer-page">
                  Page {page + 1}
                </span>
                <button
                  type="button"
                  className="btn btn-small btn-ghost"
                  disabled={!data.nextCursor}
                  onClick={() => data.nextCursor && setPaging({ key, cursors: [...cursors, data.nextCursor] })}
                >
                  Next page
                </button>
                <a className="btn btn-small btn-ghost" href={exportHref('csv')} download data-testid="export-csv">
                  Export CSV
                </a>
                <a className="btn btn-small btn-ghost" href={exportHref('json')} download data-testid="export-json">
                  Export JSON
                </a>
              </div>
              {data.requests.length === 0 ? (
                <Empty>No request matches.</Empty>
              ) : (
                <div className="table-wrap">
                  <table data-testid="requests-table">
                    <caption className="sr-only">
                      Recent requests, {SORT_OPTIONS.find(([v]) => v === sort)?.[1] ?? 'newest first'}
                    </caption>
                    <thead>
                      <tr>
                        <th scope="col">Time</th>
                        <th scope="col">Request id</th>
                        <th scope="col">Operation</th>
                        <th scope="col">Asked → served</th>
                        <th scope="col">Caller</th>
                        <th scope="col">Client</th>
                        <th scope="col">Status</th>
                        <th scope="col" className="num">
                          Duration
                        </th>
                        <th scope="col" className="num">
                          TTFT
                        </th>
                        <th scope="col" className="num">
                          Tokens in/out
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {data.requests.map((r) => (
                        <tr key={r.requestId + r.time} aria-selected={selected?.requestId === r.requestId}>
                          <td>{clock(r.time)}</td>
                          <td>
                            <button
                              type="button"
                              className="link mono ellipsis"
                              onClick={() => setSelected(r)}
                              title={r.requestId}
                              aria-label={`Details of ${r.requestId}`}
                            >
                              {r.requestId}
                            </button>
                          </td>
                          <td>
                            {r.operation ?? '—'} <span className="muted small">{r.api}</span>
                            {r.stream && <span className="pill">stream</span>}
                          </td>
                          <td>
                            {r.model ?? '—'}
                            {r.target !== r.model && <> → {r.target ?? '—'}</>}
                          </td>
                          <td>{r.caller ?? '—'}</td>
                          <td className="mono">{r.client}</td>
                          <td>
                            <span className={`pill pill-${statusClass(r.status)}`}>{r.status}</span>
                            {r.code && <span className="muted small"> {r.code}</span>}
                            {r.reason && <span className="muted small"> · {r.reason}</span>}
                          </td>
                          <td className="num">{ms(r.durationMs)}</td>
                          <td className="num">{ms(r.ttftMs)}</td>
                          <td className="num">
                            {num(r.inputTokens)}/{num(r.outputTokens)}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </div>
          )}
        </QueryView>
        {selected && <Detail r={selected} onClose={() => setSelected(null)} />}
      </div>
    </section>
  );
}
