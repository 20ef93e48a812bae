/**
 * Keys (docs/keys.md, docs/dashboard.md#views): managed API keys with their
 * spend in the current period and what running requests hold reserved. A new secret (creation, rotation) is shown
 * once, with a copy button; rotation and revocation ask for confirmation.
 */
import { useState, type FormEvent } from 'react';
import { BUDGET_PERIODS, type Budget, type BudgetPeriod, type KeyCreate, type KeyUpdate, type ManagedKey } from '@sipp/shared';
import { ApiError } from '../api/client';
import { useCreateKey, useKeys, useRevokeKey, useRotateKey, useUpdateKey } from '../api/keys';
import { Empty, QueryView } from '../components/States';
import { num } from '../format';

const errorText = (e: unknown) => (e instanceof ApiError ? e.message : e ? 'Request failed' : null);

/** The limit and budget fields of the create and edit forms, as typed. */
interface LimitFields {
  targets: string;
  rpm: string;
  tpm: string;
  usd: string;
  tokens: string;
  period: BudgetPeriod;
}

const fieldsOf = (k?: ManagedKey): LimitFields => ({
  targets: k?.targets.join(', ') ?? '',
  rpm: k?.rpm != null ? String(k.rpm) : '',
  tpm: k?.tpm != null ? String(k.tpm) : '',
  usd: k?.budget?.usd !== undefined ? String(k.budget.usd) : '',
  tokens: k?.budget?.tokens !== undefined ? String(k.budget.tokens) : '',
  period: k?.budget?.period ?? 'month',
});

/** Empty → null; anything else goes to the server as a number (it names the field when it is wrong). */
const numberOrNull = (s: string): number | null => (s.trim() === '' ? null : Number(s));

function limitsOf(f: LimitFields): { targets: string[]; rpm: number | null; tpm: number | null; budget: Budget | null } {
  const usd = numberOrNull(f.usd);
  const tokens = numberOrNull(f.tokens);
  return {
    targets: f.targets
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    rpm: numberOrNull(f.rpm),
    tpm: numberOrNull(f.tpm),
    budget:
      usd === null && tokens === null
        ? null
        : { ...(usd !== null ? { usd } : {}), ...(tokens !== null ? { tokens } : {}), period: f.period },
  };
}

function LimitInputs({ f, set, idPrefix }: { f: LimitFields; set: (f: LimitFields) => void; idPrefix: string }) {
  const input = (name: keyof LimitFields, label: string, placeholder: string, mode: 'numeric' | 'decimal' | 'text') => (
    <label>
      {label}
      <input
        name={`${idPrefix}${name}`}
        inputMode={mode}
        value={f[name]}
        placeholder={placeholder}
        onChange={(e) => set({ ...f, [name]: e.target.value })}
      />
    </label>
  );
  return (
    <>
      {input('targets', 'Targets (comma-separated)', 'all', 'text')}
      {input('rpm', 'Requests / min', 'unlimited', 'numeric')}
      {input('tpm', 'Tokens / min', 'unlimited', 'numeric')}
      {input('usd', 'Budget USD', 'none', 'decimal')}
      {input('tokens', 'Budget tokens', 'none', 'numeric')}
      <label>
        Budget period
        <select
          name={`${idPrefix}period`}
          value={f.period}
          onChange={(e) => set({ ...f, period: e.target.value as BudgetPeriod })}
        >
          {BUDGET_PERIODS.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

/** A secret shown once, with a copy button. */
function SecretOnce({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="card secret-once" role="alert" data-testid="secret-once">
      <h2>{title}</h2>
      <p className="small">Copy this secret now: it is shown only this once and cannot be retrieved later.</p>
      <code data-testid="new-secret" className="secret-value">
        {secret}
      </code>
      <div className="form-actions">
        <button
          type="button"
          className="btn btn-small"
          onClick={() => {
            void navigator.clipboard?.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            );
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="btn btn-small btn-ghost" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

function CreateForm({ onCreated }: { onCreated: (secret: string, key: ManagedKey) => void }) {
  const [name, setName] = useState('');
  const [caller, setCaller] = useState('');
  const [expires, setExpires] = useState('');
  const [f, setF] = useState(fieldsOf());
  const create = useCreateKey();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const l = limitsOf(f);
    const body: KeyCreate = {
      name,
      caller,
      ...(l.targets.length ? { targets: l.targets } : {}),
      ...(l.rpm !== null ? { rpm: l.rpm } : {}),
      ...(l.tpm !== null ? { tpm: l.tpm } : {}),
      ...(l.budget ? { budget: l.budget } : {}),
      ...(expires ? { expires_at: new Date(expires).toISOString() } : {}),
    };
    create.mutate(body, {
      onSuccess: (r) => {
        onCreated(r.secret, r.key);
        setName('');
        setCaller('');
        setExpires('');
        setF(fieldsOf());
      },
    });
  };
  return (
    <form className="card form" onSubmit={submit} noValidate aria-labelledby="key-new-h">
      <h2 id="key-new-h">New key</h2>
      <div className="fields">
        <label>
          Name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label>
          Caller
          <input name="caller" value={caller} onChange={(e) => setCaller(e.target.value)} placeholder="team or person" required />
        </label>
        <LimitInputs f={f} set={setF} idPrefix="" />
        <label>
          Expires
          <input name="expires_at" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="btn" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create key'}
        </button>
        {create.error && <span className="field-error">{errorText(create.error)}</span>}
      </div>
    </form>
  );
}

function statusPill(status: ManagedKey['status']) {
  const tone = status === 'active' ? 'ok' : status === 'disabled' ? 'warn' : 'bad';
  return <span className={`pill pill-${tone}`}>{status}</span>;
}

function budgetText(b: Budget | null): string {
  if (!b) return '—';
  const parts = [b.usd !== undefined ? `$${num(b.usd)}` : '', b.tokens !== undefined ? `${num(b.tokens)} tok` : ''].filter(
    Boolean,
  );
  return `${parts.join(' + ')} / ${b.period}`;
}

function SpendCell({ k }: { k: ManagedKey }) {
  const s = k.spend;
  if (!s) return <>—</>;
  const pctUsed = s.budget_used_pct;
  return (
    <span data-testid="key-spend">
      ${s.usd.toFixed(4)} · {num(s.tokens)} tok
      {pctUsed !== null && (
        <>
          {' '}
          <span className={`pill pill-${pctUsed >= 100 ? 'bad' : pctUsed >= 80 ? 'warn' : 'ok'}`} data-testid="key-budget-pct">
            {pctUsed}% of budget
          </span>
        </>
      )}
      <span className="muted small"> ({s.period})</span>
    </span>
  );
}

/**
 * What running requests hold against the key's budget until they settle, in the
 * budget's units (as the Spend view's Reserved column; docs/budgets.md#reservations);
 * `—` without a budget.
 */
function ReservedCell({ k }: { k: ManagedKey }) {
  const r = k.reserved;
  if (!r || !k.budget) return <>—</>;
  const parts = [
    k.budget.usd !== undefined ? `$${r.usd.toFixed(4)}` : '',
    k.budget.tokens !== undefined ? `${num(r.tokens)} tok` : '',
  ].filter(Boolean);
  return <span data-testid="key-reserved">{parts.join(' · ')}</span>;
}

function EditRow({ k, onDone }: { k: ManagedKey; onDone: () => void }) {
  const [f, setF] = useState(fieldsOf(k));
  const update = useUpdateKey();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const patch: KeyUpdate = limitsOf(f);
    update.mutate({ id: k.id, patch }, { onSuccess: onDone });
  };
  return (
    <tr>
      <td colSpan={9}>
        <form className="form" onSubmit={submit} noValidate aria-label={`Edit ${k.name}`}>
          <div className="fields">
            <LimitInputs f={f} set={setF} idPrefix="edit-" />
          </div>
          <div className="form-actions">
            <button type="submit" className="btn btn-small" disabled={update.isPending}>
              Save
            </button>
            <button type="button" className="btn btn-small btn-ghost" onClick={onDone}>
              Cancel
            </button>
            {update.error && <span className="field-error">{errorText(update.error)}</span>}
          </div>
        </form>
      </td>
    </tr>
  );
}

function KeyActions({
  k,
  onEdit,
  onSecret,
}: {
  k: ManagedKey;
  onEdit: () => void;
  onSecret: (s: string, k: ManagedKey) => void;
}) {
  const [confirm, setConfirm] = useState<'none' | 'revoke' | 'rotate'>('none');
  const [grace, setGrace] = useState('0');
  const update = useUpdateKey();
  const revoke = useRevokeKey();
  const rotate = useRotateKey();
  const error = update.error ?? revoke.error ?? rotate.error;
  if (k.status === 'revoked') return <span className="muted small">revoked</span>;
  if (confirm === 'revoke')
    return (
      <span className="confirm" role="group" aria-label={`Confirm revoking ${k.name}`}>
        <span className="small">Revoke {k.name} for good?</span>
        <button
          type="button"
          className="btn btn-small btn-danger"
          disabled={revoke.isPending}
          onClick={() => revoke.mutate(k.id, { onSuccess: () => setConfirm('none') })}
        >
          Confirm revoke
        </button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirm('none')}>
          Cancel
        </button>
        {error && <span className="field-error">{errorText(error)}</span>}
      </span>
    );
  if (confirm === 'rotate')
    return (
      <span className="confirm" role="group" aria-label={`Confirm rotating ${k.name}`}>
        <label className="small">
          Old secret keeps working for{' '}
          <select name="grace" value={grace} onChange={(e) => setGrace(e.target.value)}>
            <option value="0">0 (stops now)</option>
            <option value="300">5 minutes</option>
            <option value="3600">1 hour</option>
            <option value="86400">1 day</option>
          </select>
        </label>
        <button
          type="button"
          className="btn btn-small btn-danger"
          disabled={rotate.isPending}
          onClick={() =>
            rotate.mutate(
              { id: k.id, grace_seconds: Number(grace) },
              {
                onSuccess: (r) => {
                  setConfirm('none');
                  onSecret(r.secret, r.key);
                },
              },
            )
          }
        >
          Confirm rotate
        </button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirm('none')}>
          Cancel
        </button>
        {error && <span className="field-error">{errorText(error)}</span>}
      </span>
    );
  return (
    <span className="row-actions">
      <button type="button" className="btn btn-small btn-ghost" onClick={onEdit} aria-label={`Edit ${k.name}`}>
        Edit
      </button>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        disabled={update.isPending}
        onClick={() => update.mutate({ id: k.id, patch: { disabled: !k.disabled } })}
        aria-label={`${k.disabled ? 'Enable' : 'Disable'} ${k.name}`}
      >
        {k.disabled ? 'Enable' : 'Disable'}
      </button>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        onClick={() => setConfirm('rotate')}
        aria-label={`Rotate ${k.name}`}
      >
        Rotate
      </button>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        onClick={() => setConfirm('revoke')}
        aria-label={`Revoke ${k.name}`}
      >
        Revoke
      </button>
      {error && <span className="field-error">{errorText(error)}</span>}
    </span>
  );
}

export function Keys() {
  const keys = useKeys();
  const [secret, setSecret] = useState<{ title: string; value: string } | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <section aria-labelledby="keys-h">
      <div className="view-head">
        <h1 id="keys-h">Keys</h1>
      </div>
      {secret && <SecretOnce title={secret.title} secret={secret.value} onDone={() => setSecret(null)} />}
      <QueryView query={keys}>
        {(data) => (
          <>
            <CreateForm onCreated={(value, k) => setSecret({ title: `Key "${k.name}" created`, value })} />
            {data.keys.length === 0 ? (
              <Empty>No managed keys yet.</Empty>
            ) : (
              <div className="table-wrap">
                <table data-testid="keys-table">
                  <caption>Managed API keys (secrets are never shown again; the prefix identifies a key)</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Caller</th>
                      <th scope="col">Prefix</th>
                      <th scope="col">Status</th>
                      <th scope="col">Limits</th>
                      <th scope="col">Budget</th>
                      <th scope="col">Spend</th>
                      <th scope="col" title="Held by running requests until they settle">
                        Reserved
                      </th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.keys.flatMap((k) => [
                      <tr key={k.id} data-key-id={k.id} data-testid="key-row">
                        <th scope="row">{k.name}</th>
                        <td>{k.caller}</td>
                        <td>
                          <code>{k.prefix}…</code>
                        </td>
                        <td>{statusPill(k.status)}</td>
                        <td data-testid="key-limits">
                          {k.rpm !== null ? `${num(k.rpm)} rpm` : '—'} · {k.tpm !== null ? `${num(k.tpm)} tpm` : '—'}
                          {k.targets.length > 0 && <span className="muted small"> · {k.targets.join(', ')}</span>}
                        </td>
                        <td data-testid="key-budget">{budgetText(k.budget)}</td>
                        <td>
                          <SpendCell k={k} />
                        </td>
                        <td>
                          <ReservedCell k={k} />
                        </td>
                        <td>
                          <KeyActions
                            k={k}
                            onEdit={() => setEditing(k.id)}
                            onSecret={(value, key) => setSecret({ title: `New secret for "${key.name}"`, value })}
                          />
                        </td>
                      </tr>,
                      ...(editing === k.id ? [<EditRow key={`${k.id}-edit`} k={k} onDone={() => setEditing(null)} />] : []),
                    ])}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </QueryView>
    </section>
  );
}
