import type { TargetView } from '@sipp/shared';
import { useTargets } from '../api/hooks';
import { CircuitPanel } from '../components/Circuit';
import { Empty, QueryView } from '../components/States';
import { ago, compact, ms, num } from '../format';

const TYPE_LABEL: Record<TargetView['type'], string> = {
  local: 'Local GGUF',
  openai: 'OpenAI',
  openai_compatible: 'OpenAI-compatible',
  anthropic: 'Anthropic',
};

function KeyValues({ values }: { values: Record<string, number | string | boolean | null> }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p className="muted small">No runtime numbers yet.</p>;
  return (
    <dl className="kv">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ')}</dt>
          <dd>{v === null ? '—' : typeof v === 'number' ? (Number.isInteger(v) ? num(v) : v.toFixed(2)) : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function TargetCard({ t }: { t: TargetView }) {
  const errRate = t.traffic.requests ? t.traffic.errors / t.traffic.requests : 0;
  return (
    <article className="card target" data-testid={`target-${t.name}`}>
      <header className="target-head">
        <h2>{t.name}</h2>
        <span className="pill">{TYPE_LABEL[t.type]}</span>
      </header>
      <dl className="kv">
        <div>
          <dt>Model</dt>
          <dd className="mono">{t.model}</dd>
        </div>
        <div>
          <dt>Operations</dt>
          <dd>{t.operations.join(', ')}</dd>
        </div>
        {t.baseUrl && (
          <div>
            <dt>Base URL</dt>
            <dd className="mono ellipsis" title={t.baseUrl}>
              {t.baseUrl}
            </dd>
          </div>
        )}
        {t.backend && (
          <div>
            <dt>Backend</dt>
            <dd>
              {t.backend.selected ?? 'loading'} <span className="muted">(requested {t.backend.requested})</span>
              {t.backend.devices.length > 0 && <span className="muted small"> · {t.backend.devices.join(', ')}</span>}
            </dd>
          </div>
        )}
        {t.stats && (
          <div>
            <dt>Stats</dt>
            <dd>{t.stats}</dd>
          </div>
        )}
      </dl>
      <div className="mini-tiles">
        <div>
          <span>Requests</span>
          <strong>{num(t.traffic.requests)}</strong>
        </div>
        <div>
          <span>Errors</span>
          <strong className={errRate > 0.1 ? 'bad-text' : undefined}>{num(t.traffic.errors)}</strong>
        </div>
        <div>
          <span>p50 / p99</span>
          <strong>
            {ms(t.traffic.latencyMs.p50)} / {ms(t.traffic.latencyMs.p99)}
          </strong>
        </div>
        <div>
          <span>Tokens in/out</span>
          <strong>
            {compact(t.traffic.inputTokens)} / {compact(t.traffic.outputTokens)}
          </strong>
        </div>
        <div>
          <span>Last request</span>
          <strong>{ago(t.traffic.lastRequestAt)}</strong>
        </div>
      </div>
      {t.circuit && <CircuitPanel target={t.name} circuit={t.circuit} />}
      {t.runtime && (
        <>
          <h3>Runtime</h3>
          <KeyValues values={t.runtime} />
        </>
      )}
      {t.profile && (
        <>
          <h3>Last request profile</h3>
          <KeyValues values={t.profile} />
        </>
      )}
    </article>
  );
}

export function Targets() {
  const targets = useTargets();
  return (
    <section aria-labelledby="targets-h">
      <h1 id="targets-h">Targets</h1>
      <QueryView query={targets}>
        {(data) =>
          data.targets.length === 0 ? (
            <Empty>No targets configured.</Empty>
          ) : (
            <div className="cards">
              {data.targets.map((t) => (
                <TargetCard key={t.name} t={t} />
              ))}
            </div>
          )
        }
      </QueryView>
    </section>
  );
}
