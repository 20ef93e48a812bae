/** Backend selection against simulated GPU availability, and the startup error for an unavailable one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { LocalRuntimeSchema } from '../../src/config/local-runtime.js';
import { BackendUnavailableError, selectBackend, type GpuAvailability } from '../../src/targets/local/backend.js';
import { createLocalTarget } from '../../src/targets/local/index.js';
import { ensureDemoModel } from './models.js';

const none: GpuAvailability = { cuda: false, metal: false, vulkan: false };

describe('selectBackend', () => {
  it('auto prefers CUDA, then Metal, then Vulkan, then CPU', () => {
    assert.equal(selectBackend('auto', { cuda: true, metal: true, vulkan: true }), 'cuda');
    assert.equal(selectBackend('auto', { cuda: false, metal: true, vulkan: true }), 'metal');
    assert.equal(selectBackend('auto', { cuda: false, metal: false, vulkan: true }), 'vulkan');
    assert.equal(selectBackend('auto', none), 'cpu');
  });

  it('cpu is always CPU, even with GPUs available', () => {
    assert.equal(selectBackend('cpu', { cuda: true, metal: true, vulkan: true }), 'cpu');
    assert.equal(selectBackend('cpu', none), 'cpu');
  });

  it('an explicit GPU backend is used when available', () => {
    assert.equal(selectBackend('vulkan', { cuda: true, metal: false, vulkan: true }), 'vulkan');
    assert.equal(selectBackend('cuda', { cuda: true, metal: false, vulkan: false }), 'cuda');
    assert.equal(selectBackend('metal', { cuda: false, metal: true, vulkan: false }), 'metal');
  });

  for (const gpu of ['cuda', 'metal', 'vulkan'] as const) {
    it(`an unavailable explicit ${gpu} backend is an error naming it`, () => {
      const others: GpuAvailability = { cuda: true, metal: true, vulkan: true, [gpu]: false };
      assert.throws(
        () => selectBackend(gpu, others),
        (err: unknown) => err instanceof BackendUnavailableError && err.backend === gpu && err.message.includes(`"${gpu}"`),
      );
    });
  }
});

describe('local target backend at load', () => {
  const deps = () => ({ log: pino({ level: 'silent' }), registry: new Registry(), secret: () => '' });
  const config = (backend: 'auto' | 'cpu' | 'cuda' | 'metal' | 'vulkan') => ({
    name: 'gpu-target',
    type: 'local' as const,
    model: ensureDemoModel(),
    backend,
    stats: 'off' as const,
    runtime: LocalRuntimeSchema.parse({ context_size: 256, parallel: 1 }),
  });

  it('fails to load when the requested GPU backend is unavailable, naming target and backend', async () => {
    const target = createLocalTarget(config('cuda'), deps(), { detectGpus: async () => none });
    await assert.rejects(target.load(), (err: Error) => {
      assert.match(err.message, /local target "gpu-target"/);
      assert.match(err.message, /"cuda" is not available/);
      return true;
    });
    assert.equal(target.describe().backend?.selected, null);
    await target.close();
  });

  it('auto on a machine without GPUs selects cpu and records requested and selected', async () => {
    const target = createLocalTarget(config('auto'), deps(), { detectGpus: async () => none });
    await target.load();
    try {
      assert.deepEqual(target.describe().backend, { requested: 'auto', selected: 'cpu', devices: [], vramBytes: null });
      assert.equal(target.describe().runtime?.gpuLayers, 0);
    } finally {
      await target.close();
    }
  });
});
