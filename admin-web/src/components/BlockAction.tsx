/**
 * "Block" with a confirmation step and an Undo after it: used by the request
 * explorer and the clients table. Undo removes the entry it just added.
 */
import { useState } from 'react';
import { ApiError } from '../api/client';
import { useBlock, useUnblock } from '../api/hooks';

export function BlockAction({ client, blocked = false }: { client: string; blocked?: boolean }) {
  const [step, setStep] = useState<'idle' | 'confirm' | 'done'>('idle');
  const block = useBlock();
  const unblock = useUnblock();
  const error = block.error ?? unblock.error;
  if (step === 'confirm') {
    return (
      <span className="confirm" role="group" aria-label={`Confirm blocking ${client}`}>
        <span className="small">Block {client}?</span>
        <button
          type="button"
          className="btn btn-small btn-danger"
          disabled={block.isPending}
          onClick={() =>
            block.mutate({ entry: client, note: 'blocked from the dashboard' }, { onSuccess: () => setStep('done') })
          }
        >
          Confirm block
        </button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setStep('idle')}>
          Cancel
        </button>
        {error && <span className="field-error">{error instanceof ApiError ? error.message : 'failed'}</span>}
      </span>
    );
  }
  if (step === 'done') {
    return (
      <span className="confirm" role="status">
        <span className="pill pill-bad">blocked</span>
        <button
          type="button"
          className="btn btn-small btn-ghost"
          disabled={unblock.isPending}
          onClick={() => unblock.mutate(client, { onSuccess: () => setStep('idle') })}
        >
          Undo
        </button>
        {error && <span className="field-error">{error instanceof ApiError ? error.message : 'failed'}</span>}
      </span>
    );
  }
  if (blocked) return <span className="pill pill-bad">blocked</span>;
  return (
    <button type="button" className="btn btn-small btn-ghost" onClick={() => setStep('confirm')} aria-label={`Block ${client}`}>
      Block
    </button>
  );
}
