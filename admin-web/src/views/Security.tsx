import { useState, type FormEvent } from 'react';
import { ConcurrencyUpdateSchema, RateLimitUpdateSchema, type SecurityResponse } from '@sipp/shared';
import { ApiError } from '../api/client';
import { useBlock, useSecurity, useSetConcurrency, useSetRateLimit, useUnblock } from '../api/hooks';
import { Empty, QueryView } from '../components/States';
import { Tile } from '../components/Tile';
import { ago, num } from '../format';

const errorText = (e: unknown) => (e instanceof ApiError ? e.message : e ? 'Request failed' : null);

/** Field → first message, from the same zod schema the server enforces. */
function fieldErrors(result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }): Record<string, string> {
  const out: Record<string, string> = {};
  if (result.success || !result.error) return out;
  for (const i of result.error.issues) {
    const k = String(i.path[0] ?? 'form');
    out[k] ??= i.message;
  }
  return out;
}

function RateLimitForm({ current }: { current: SecurityResponse['rateLimit'] }) {
  const [enabled, setEnabled] = useState(current.enabled);
  const [rpm, setRpm] = useState(String(current.requestsPerMinute));
  const [burst, setBurst] = useState(String(current.burst));
  const [touched, setTouched] = useState(false);
  const save = useSetRateLimit();
  const candidate = { enabled, requestsPerMinute: rpm.trim() === '' ? NaN : Number(rpm), burst: burst.trim() === '' ? NaN : Number(burst) };
  const parsed = RateLimitUpdateSchema.safeParse(candidate);
  const errors = touched ? fieldErrors(parsed) : {};
  const dirty = enabled !== current.enabled || Number(rpm) !== current.requestsPerMinute || Number(burst) !== current.burst;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (parsed.success) save.mutate(parsed.data, { onSuccess: () => setTouched(false) });
  };

  return (
    <form className="card form" onSubmit={submit} noValidate aria-labelledby="rl-h">
      <h2 id="rl-h">Rate limit</h2>
      <p className="muted small">Per-client token bucket on the public listener. Applies to the next request; reset on restart.</p>
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
          {errors.requestsPerMinute && <span className="field-error">{errors.requestsPerMinute.replace(/^Invalid input.*/, 'enter a number')}</span>}
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
          {errors.burst && <span className="field-error">{errors.burst.replace(/^Invalid input.*/, 'enter a whole number')}</span>}
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn" disabled={save.isPending || (touched && !parsed.success)}>
          {save.isPending ? 'Saving…' : 'Apply'}
        </button>
        {dirty && <span className="muted small">Unsaved: currently {current.enabled ? `${num(current.requestsPerMinute)}/min, burst ${num(current.burst)}` : 'disabled'}</span>}
        {save.isSuccess && !dirty && <span className="ok-text small">Applied</span>}
        {save.error && <span className="field-error">{errorText(save.error)}</span>}
      </div>
    </form>
  );
}

function ConcurrencyForm({ current }: { current: SecurityResponse['concurrency'] }) {
  const [value, setValue] = useState(current.limit === null ? '' : String(current.limit));
  const save = useSetConcurrency();
  const candidate = { limit: value.trim() === '' ? null : Number(value) };
  const parsed = ConcurrencyUpdateSchema.safeParse(candidate);
  const error = parsed.success ? null : (fieldErrors(parsed).limit ?? 'invalid').replace(/^Invalid input.*/, 'enter a whole number');
  return (
    <form
      className="card form"
      noValidate
      aria-labelledby="cc-h"
      onSubmit={(e) => {
        e.preventDefault();
        if (parsed.success) save.mutate(parsed.data);
      }}
    >
      <h2 id="cc-h">Concurrency</h2>
      <p className="muted small">
        Maximum in-flight inference requests; extra requests get 429. Configured: {current.configured ?? 'unbounded'} · in flight now: {num(current.inFlight)}.
      </p>
      <div className="fields">
        <label>
          Limit (empty = unbounded)
          <input inputMode="numeric" name="concurrency" value={value} placeholder="unbounded" onChange={(e) => setValue(e.target.value)} aria-invalid={!!error} />
          {error && <span className="field-error">{error}</span>}
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn" disabled={save.isPending || !parsed.success}>
          {save.isPending ? 'Saving…' : 'Apply'}
        </button>
        <span className="muted small">Current: {current.limit ?? 'unbounded'}</span>
        {save.error && <span className="field-error">{errorText(save.error)}</span>}
      </div>
    </form>
  );
}

const looksLikeIp = (s: string) => /^[0-9.]+$/.test(s) ? /^\d{1,3}(\.\d{1,3}){3}$/.test(s) : /^[0-9a-fA-F:.%[\]]+$/.test(s) && s.includes(':');

function Blocklist({ data }: { data: SecurityResponse }) {
  const [ip, setIp] = useState('');
  const block = useBlock();
  const unblock = useUnblock();
  const trimmed = ip.trim();
  const localError = trimmed && !looksLikeIp(trimmed) ? 'Enter an IPv4 or IPv6 address' : null;
  return (
    <div className="card" aria-labelledby="bl-h">
      <h2 id="bl-h">Blocklist</h2>
      <p className="muted small">Blocked clients get 403 on their next public request. Client identity: {data.clientIp.source.replace(/_/g, '-')}.</p>
      <form
        className="inline-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!trimmed || localError) return;
          block.mutate(trimmed, { onSuccess: () => setIp('') });
        }}
      >
        <label className="sr-only" htmlFor="block-ip">
          IP address to block
        </label>
        <input id="block-ip" name="ip" placeholder="203.0.113.7 or 2001:db8::1" value={ip} onChange={(e) => setIp(e.target.value)} aria-invalid={!!localError} />
        <button type="submit" className="btn btn-danger" disabled={!trimmed || !!localError || block.isPending}>
          Block
        </button>
      </form>
      {(localError || block.error) && <p className="field-error">{localError ?? errorText(block.error)}</p>}
      {data.blocklist.length === 0 ? (
        <Empty>No blocked clients.</Empty>
      ) : (
        <ul className="blocklist" data-testid="blocklist">
          {data.blocklist.map((b) => (
            <li key={b.ip}>
              <span className="mono">{b.ip}</span>
              <span className="muted small">added {ago(b.addedAt)}</span>
              <button type="button" className="btn btn-small btn-ghost" disabled={unblock.isPending} onClick={() => unblock.mutate(b.ip)} aria-label={`Unblock ${b.ip}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {unblock.error && <p className="field-error">{errorText(unblock.error)}</p>}
    </div>
  );
}

export function Security() {
  const security = useSecurity();
  return (
    <section aria-labelledby="security-h">
      <h1 id="security-h">Security</h1>
      <p className="muted">Runtime controls take effect on the next public request. They are kept in memory only and reset when the gateway restarts.</p>
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
    </section>
  );
}
