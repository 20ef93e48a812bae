import { useState, type FormEvent } from 'react';
import type { SecurityResponse } from '@sipp/shared';
import { ApiError } from '../api/client';
import { useBlock, useSecurity, useSetConcurrency, useSetRateLimit, useUnblock } from '../api/hooks';
import { AuditLog } from '../components/AuditLog';
import { Empty, QueryView } from '../components/States';
import { Tile } from '../components/Tile';
import { ago, num } from '../format';
import { positiveNumber, wholeNumber, looksLikeEntry } from '../validate';

const errorText = (e: unknown) => (e instanceof ApiError ? e.message : e ? 'Request failed' : null);

function RateLimitForm({ current }: { current: SecurityResponse['rateLimit'] }) {
  const [enabled, setEnabled] = useState(current.enabled);
  const [rpm, setRpm] = useState(String(current.requestsPerMinute));
  const [burst, setBurst] = useState(String(current.burst));
  const [touched, setTouched] = useState(false);
  const save = useSetRateLimit();
  const rpmCheck = positiveNumber(rpm, 1_000_000);
  const burstCheck = wholeNumber(burst, 1_000_000);
  const valid = rpmCheck.value !== null && burstCheck.value !== null;
  const errors: Record<string, string | null> = touched ? { requestsPerMinute: rpmCheck.error, burst: burstCheck.error } : {};
  const dirty = enabled !== current.enabled || Number(rpm) !== current.requestsPerMinute || Number(burst) !== current.burst;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (valid)
      save.mutate(
        { enabled, requestsPerMinute: rpmCheck.value!, burst: burstCheck.value! },
        { onSuccess: () => setTouched(false) },
      );
  };

  return (
    <form className="card form" onSubmit={submit} noValidate aria-labelledby="rl-h">
      <h2 id="rl-h">Rate limit</h2>
      <p className="muted small">
        Per-client token bucket on the public listener. Applies to the next request; reset on restart.
      </p>
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} name="enabled" />
        Enabled
      </label>
      <div className="fields">
        <label>
          Requests per minute
          <input
            inputMode="decimal"
            name="requestsPerMinute"
            value={rpm}
            onChange={(e) => {
              setRpm(e.target.value);
              setTouched(true);
            }}
            aria-invalid={!!errors.requestsPerMinute}
          />
          {errors.requestsPerMinute && <span className="field-error">{errors.requestsPerMinute}</span>}
        </label>
        <label>
          Burst
          <input
            inputMode="numeric"
            name="burst"
            value={burst}
            onChange={(e) => {
              setBurst(e.target.value);
              setTouched(true);
            }}
            aria-invalid={!!errors.burst}
          />
          {errors.burst && <span className="field-error">{errors.burst}</span>}
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn" disabled={save.isPending || (touched && !valid)}>
          {save.isPending ? 'Saving…' : 'Apply'}
        </button>
        {dirty && (
          <span className="muted small">
            Unsaved: currently{' '}
            {current.enabled ? `${num(current.requestsPerMinute)}/min, burst ${num(current.burst)}` : 'disabled'}
          </span>
        )}
        {save.isSuccess && !dirty && <span className="ok-text small">Applied</span>}
        {save.error && <span className="field-error">{errorText(save.error)}</span>}
      </div>
    </form>
  );
}

function ConcurrencyForm({ current }: { current: SecurityResponse['concurrency'] }) {
  const [value, setValue] = useState(current.limit === null ? '' : String(current.limit));
  const save = useSetConcurrency();
  const check = value.trim() === '' ? { value: null, error: null } : wholeNumber(value, 100_000);
  const error = check.error;
  return (
    <form
      className="card form"
      noValidate
      aria-labelledby="cc-h"
      onSubmit={(e) => {
        e.preventDefault();
        if (!error) save.mutate({ limit: check.value });
      }}
    >
      <h2 id="cc-h">Concurrency</h2>
      <p className="muted small">
        Maximum in-flight inference requests; extra requests get 429. Configured: {current.configured ?? 'unbounded'} · in flight
        now: {num(current.inFlight)}.
      </p>
      <div className="fields">
        <label>
          Limit (empty = unbounded)
          <input
            inputMode="numeric"
            name="concurrency"
            value={value}
            placeholder="unbounded"
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={!!error}
          />
          {error && <span className="field-error">{error}</span>}
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn" disabled={save.isPending || !!error}>
          {save.isPending ? 'Saving…' : 'Apply'}
        </button>
        <span className="muted small">Current: {current.limit ?? 'unbounded'}</span>
        {save.error && <span className="field-error">{errorText(save.error)}</span>}
      </div>
    </form>
  );
}

const EXPIRY_OPTIONS: Array<[string, string]> = [
  ['', 'never'],
  ['900', '15 minutes'],
  ['3600', '1 hour'],
  ['86400', '24 hours'],
  ['604800', '7 days'],
];

function Blocklist({ data }: { data: SecurityResponse }) {
  const [entry, setEntry] = useState('');
  const [expiry, setExpiry] = useState('');
  const [note, setNote] = useState('');
  const block = useBlock();
  const unblock = useUnblock();
  const trimmed = entry.trim();
  const localError =
    trimmed && !looksLikeEntry(trimmed)
      ? 'Enter an IPv4/IPv6 address or a CIDR range such as 10.0.0.0/24'
      : note.length > 200
        ? 'The note is limited to 200 characters'
        : null;
  return (
    <div className="card" aria-labelledby="bl-h">
      <h2 id="bl-h">Blocklist</h2>
      <p className="muted small">
        Blocked clients get 403 on their next public request. Entries are single addresses or CIDR ranges, optionally expiring.
      </p>
      <form
        className="block-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!trimmed || localError) return;
          block.mutate(
            {
              entry: trimmed,
              ...(expiry ? { expires_in_seconds: Number(expiry) } : {}),
              ...(note.trim() ? { note: note.trim() } : {}),
            },
            {
              onSuccess: () => {
                setEntry('');
                setNote('');
              },
            },
          );
        }}
      >
        <label>
          Address or CIDR to block
          <input
            name="entry"
            placeholder="203.0.113.7, 10.0.0.0/24 or 2001:db8::/32"
            value={entry}
            onChange={(e) => setEntry(e.target.value)}
            aria-invalid={!!localError}
          />
        </label>
        <label>
          Expires after
          <select name="expiry" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            {EXPIRY_OPTIONS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Note (optional)
          <input name="note" value={note} maxLength={200} onChange={(e) => setNote(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-danger" disabled={!trimmed || !!localError || block.isPending}>
          Block
        </button>
      </form>
      {(localError || block.error) && <p className="field-error">{localError ?? errorText(block.error)}</p>}
      {data.blocklist.length === 0 ? (
        <Empty>No blocked clients.</Empty>
      ) : (
        <div className="table-wrap">
          <table data-testid="blocklist">
            <caption className="sr-only">Blocklist entries</caption>
            <thead>
              <tr>
                <th scope="col">Entry</th>
                <th scope="col">Added</th>
                <th scope="col">Expires</th>
                <th scope="col">Note</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {data.blocklist.map((b) => (
                <tr key={b.entry}>
                  <th scope="row" className="mono">
                    {b.entry}
                  </th>
                  <td>{ago(b.addedAt)}</td>
                  <td>{b.expiresAt === null ? 'never' : new Date(b.expiresAt).toLocaleString()}</td>
                  <td>{b.note ?? '—'}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-small btn-ghost"
                      disabled={unblock.isPending}
                      onClick={() => unblock.mutate(b.entry)}
                      aria-label={`Unblock ${b.entry}`}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {unblock.error && <p className="field-error">{errorText(unblock.error)}</p>}
      <h3>Client address</h3>
      <p className="small" data-testid="client-ip-source">
        Source: <strong>{data.clientIp.source.replace(/_/g, '-')}</strong>
        {data.clientIp.source !== 'peer' && (
          <>
            {' '}
            · trusted proxies:{' '}
            {data.clientIp.trustedProxyCidrs.length === 0 ? (
              <span className="muted">none (the header is ignored)</span>
            ) : (
              data.clientIp.trustedProxyCidrs.map((c) => (
                <span key={c} className="pill mono">
                  {c}
                </span>
              ))
            )}
          </>
        )}
        {data.clientIp.source === 'peer' && <span className="muted"> (the TCP peer address; forwarded headers are ignored)</span>}
      </p>
    </div>
  );
}

export function Security() {
  const security = useSecurity();
  return (
    <section aria-labelledby="security-h">
      <h1 id="security-h">Security</h1>
      <p className="muted">
        Runtime controls take effect on the next public request. They are kept in memory only and reset when the gateway restarts.
      </p>
      <QueryView query={security}>
        {(data) => (
          <>
            <div className="tiles">
              <Tile label="Rate-limit hits" value={num(data.totals.rateLimitHits)} />
              <Tile label="Blocklist hits" value={num(data.totals.blocklistHits)} />
              <Tile label="Admission rejections" value={num(data.totals.admissionRejections)} />
              <Tile label="Blocked clients" value={num(data.blocklist.length)} />
            </div>
            <div className="grid-2">
              <RateLimitForm current={data.rateLimit} />
              <ConcurrencyForm current={data.concurrency} />
            </div>
            <Blocklist data={data} />
          </>
        )}
      </QueryView>
      <AuditLog />
    </section>
  );
}
