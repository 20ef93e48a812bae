/** `[targets.runtime]` is typed and validated by `check`: defaults, ranges, unknown keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

const base = (runtime: string) => `admin_password_env = "ADMIN"
[security]
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "local"
type = "local"
model = "models/demo.gguf"
${runtime}
`;

function parseError(text: string): string {
  try {
    parseConfigText(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('configuration was accepted');
}

describe('[targets.runtime]', () => {
  it('has documented defaults (threads = 1)', () => {
    const cfg = parseConfigText(base(''));
    const t = cfg.targets[0]!;
    assert.equal(t.type, 'local');
    if (t.type !== 'local') return;
    assert.equal(t.backend, 'auto');
    assert.equal(t.stats, 'basic');
    assert.deepEqual(t.runtime, {
      context_size: 2048,
      parallel: 4,
      threads: 1,
      gpu_layers: 'auto',
      batch_size: 512,
      queue_size: 64,
      default_max_tokens: 256,
    });
  });

  it('accepts every setting', () => {
    const cfg = parseConfigText(
      base(`[targets.runtime]
context_size = 1024
parallel = 8
threads = 2
gpu_layers = 10
batch_size = 256
queue_size = 0
default_max_tokens = 32`),
    );
    const t = cfg.targets[0]!;
    assert.ok(t.type === 'local');
    assert.equal(t.runtime.parallel, 8);
    assert.equal(t.runtime.gpu_layers, 10);
    assert.equal(t.runtime.queue_size, 0);
  });

  it('rejects an unknown key, naming it', () => {
    assert.match(parseError(base('[targets.runtime]\nflash = true')), /flash/);
  });

  for (const [field, value] of [
    ['threads', '0'],
    ['parallel', '0'],
    ['context_size', '8'],
    ['batch_size', '0'],
    ['queue_size', '-1'],
    ['gpu_layers', '"some"'],
    ['threads', '1.5'],
  ] as const) {
    it(`rejects ${field} = ${value}, naming the field`, () => {
      assert.match(parseError(base(`[targets.runtime]\n${field} = ${value}`)), new RegExp(`runtime\\.${field}`));
    });
  }

  it('rejects an unknown backend and stats mode', () => {
    assert.match(parseError(base('backend = "rocm"')), /backend/);
    assert.match(parseError(base('stats = "verbose"')), /stats/);
  });
});
