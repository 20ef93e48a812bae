/**
 * ControlsSync (server/src/state/controls-sync.ts): a reload that fails (a slow or briefly unreachable
 * store) is tried again soon, not only at the next periodic resync, so a change notice that arrived
 * then still applies (docs/operations.md: runtime controls reach every replica).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { ControlsSync } from '../../src/state/controls-sync.js';
import type { LiveControls } from '../../src/state/controls.js';
import type { ControlsStore } from '../../src/state/controls-store.js';

test('a failed reload after a change notice is retried well before the periodic resync', async () => {
  let calls = 0;
  let retried!: () => void;
  const retriedAgain = new Promise<void>((r) => (retried = r));
  let notify!: () => void;
  const store: ControlsStore = {
    load: async () => {
      calls++;
      if (calls === 2) throw new Error('command timed out');
      if (calls === 3) retried();
      return null;
    },
    save: async () => {},
    watch: (listener) => (notify = listener),
  };
  let errors = 0;
  const sync = new ControlsSync({} as LiveControls, store, pino({ level: 'silent' }), () => errors++);
  // The periodic resync is an hour away: only the retry can make the third load.
  await sync.start(3_600_000);
  try {
    notify();
    // A referenced timer keeps the process alive while the retry (an unref'd timer) is pending; 20 s only bounds a hang.
    let hang: NodeJS.Timeout | undefined;
    const bound = new Promise<'none'>((r) => (hang = setTimeout(() => r('none'), 20_000)));
    assert.equal(await Promise.race([retriedAgain.then(() => 'retried' as const), bound]), 'retried');
    assert.equal(errors, 1);
    clearTimeout(hang);
  } finally {
    sync.close();
  }
});
