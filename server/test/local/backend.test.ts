/** Backend selection against simulated GPU availability, and the startup error for an unavailable one. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { LocalRuntimeSchema } from '../../src/config/local-runtime.js';
import { BackendUnavailableError, selectBackend, type GpuAvailability } from '../../src/targets/local/backend.js';
import { probeBackend } from '../../src/targets/local/gpu-probe.js';
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

// What llama.cpp printed on the GPU machine (node-llama-cpp 3.22.1, H200, driver 580) before it aborted.
const PTX_ERROR = 'CUDA error: the provided PTX was compiled with an unsupported toolchain.';

describe('GPU startup check (child process)', () => {
  const script = (body: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'sipp-probe-')), 'child.mjs');
    writeFileSync(file, body);
    return file;
  };

  it('passes when the backend decodes a token (real llama.cpp in the child, on the CPU)', async () => {
    assert.equal(await probeBackend('cpu', ensureDemoModel()), null);
  });

  it("fails with llama.cpp's own error line when the child aborts, and the parent lives on", async () => {
    const abort = script(
      `process.stderr.write('/x/ggml-cuda.cu:108: CUDA error\\n[node-llama-cpp] ${PTX_ERROR}\\n[node-llama-cpp]   current device: 0\\n');\nprocess.abort();\n`,
    );
    const reason = await probeBackend('cuda', ensureDemoModel(), { script: abort });
    assert.equal(reason, `the check died (SIGABRT): ${PTX_ERROR}`);
  });

  it('fails when the child cannot load the model, naming why', async () => {
    const reason = await probeBackend('cpu', join(tmpdir(), 'no-such-model.gguf'));
    assert.match(reason ?? '', /^the check exited with 1: error: /);
  });

  it('fails when the child does not answer in time', async () => {
    const hang = script('setInterval(() => {}, 1000);\n');
    assert.equal(await probeBackend('cuda', ensureDemoModel(), { script: hang, timeoutMs: 300 }), 'no answer within 300 ms');
  });
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

  describe('a GPU backend that fails its startup check', () => {
    const cuda: GpuAvailability = { cuda: true, metal: false, vulkan: false };
    const failing = (calls: string[]) => async (backend: string, model: string) => {
      calls.push(`${backend} ${model}`);
      return `the check died (SIGABRT): ${PTX_ERROR}`;
    };

    it('auto falls back to cpu with a warning that names the reason', async () => {
      const lines: string[] = [];
      const log = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
      const calls: string[] = [];
      const target = createLocalTarget(
        config('auto'),
        { ...deps(), log },
        { detectGpus: async () => cuda, probeGpu: failing(calls) },
      );
      await target.load();
      try {
        assert.deepEqual(calls, [`cuda ${ensureDemoModel()}`]);
        assert.equal(target.describe().backend?.selected, 'cpu');
        const warn = lines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).find((l) => /startup check/.test(l.msg));
        assert.ok(warn, `no startup-check warning in ${lines.join('')}`);
        assert.equal(warn.reason, `the check died (SIGABRT): ${PTX_ERROR}`);
      } finally {
        await target.close();
      }
    });

    it('an explicit backend is a startup error naming it and the reason', async () => {
      const calls: string[] = [];
      const target = createLocalTarget(config('cuda'), deps(), { detectGpus: async () => cuda, probeGpu: failing(calls) });
      await assert.rejects(target.load(), (err: Error) => {
        assert.equal(
          err.message,
          `local target "gpu-target": backend "cuda" failed its startup check (the check died (SIGABRT): ${PTX_ERROR})`,
        );
        return true;
      });
      assert.equal(calls.length, 1);
      assert.equal(target.describe().backend?.selected, null);
      await target.close();
    });

    it('cpu is never checked', async () => {
      const calls: string[] = [];
      const target = createLocalTarget(config('cpu'), deps(), { detectGpus: async () => cuda, probeGpu: failing(calls) });
      await target.load();
      await target.close();
      assert.deepEqual(calls, []);
    });
  });
});
