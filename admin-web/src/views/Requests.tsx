import { useState } from 'react';
import type { RecentRequestView } from '@sipp/shared';
import { useRequests } from '../api/hooks';
import { BlockAction } from '../components/BlockAction';
import { Empty, QueryView } from '../components/States';
import { clock, ms, num, statusClass } from '../format';
import { setSearch, useSearch } from '../router';

const FILTERS = ['status', 'code', 'operation', 'target', 'caller', 'client', 'q', 'from', 'to'] as const;
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
    ['Time', new Date(r.time).toLocaleString()],
    ['Operation', r.operation ?? '—'],
    ['API surface', r.api],
    ['Target asked for', r.model ?? '—'],
    ['Target served', r.target ?? '—'],
    ['Group', r.group ?? '—'],
    ['Attempts', num(r.attempts)],
    ['Caller', r.caller ?? 'unauthenticated'],
    ['Client', <span className="mono">{r.client}</span>],
    ['Status', `${r.status}${r.code ? ` · ${r.code}` : ''}`],
    ['Upstream status', r.upstreamStatus ?? '—'],
    ['Duration', ms(r.durationMs)],
    ['Time to first token', ms(r.ttftMs)],
    ['Tokens in / out', `${num(r.inputTokens)} / ${num(r.outputTokens)}`],
    ['Stream', r.stream ? 'yes' : 'no'],
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
  const query = new URLSearchParams();
  for (const f of FILTERS) {
    const v = params.get(f);
    if (v) query.set(f, v);
  }
  query.set('limit', '200');
  const requests = useRequests(query.toString(), live);
  const get = (k: string) => params.get(k) ?? '';
  const active = FILTERS.some((f) => params.get(f));
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
        <TextFilter name="target" label="Target" value={get('target')} placeholder="name, - for none" />
        <TextFilter name="caller" label="Caller" value={get('caller')} placeholder="label, - for none" />
        <TextFilter name="client" label="Client IP" value={get('client')} />
        <TextFilter name="q" label="Request id" value={get('q')} placeholder="id prefix" />
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
                {data.matched > data.requests.length ? ` (newest ${num(data.requests.length)} shown)` : ''}
                {!live && ' · paused'}
              </p>
              {data.requests.length === 0 ? (
                <Empty>No request matches.</Empty>
              ) : (
                <div className="table-wrap">
                  <table data-testid="requests-table">
                    <caption className="sr-only">Recent requests, newest first</caption>
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
                          </td>
                          <td className="num">{ms(r.durationMs)}</td>
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
