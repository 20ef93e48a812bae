/**
 * Every shipped example config (config/*.toml) passes `sipp-gateway check`,
 * and `.env.example` lists a placeholder for every secret any of them names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exampleConfigs, loadExampleConfig, parseDotenv, readRepoFile, runCli, secretEnvNames } from './files.js';

/** Variables .env.example may list although no config names them: not secrets. */
const NON_SECRET_SETTINGS = new Set(['LOG_LEVEL', 'RUST_LOG', 'SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS']);
/** The issue's required set of examples (demo.toml ships with the local-model demo). */
const REQUIRED = ['config/docker.toml', 'config/provider-only.toml', 'config/local.toml', 'config/hybrid.toml'];

const configs = exampleConfigs();

describe('example configs', () => {
  test('the required examples are shipped', () => {
    for (const f of REQUIRED) assert.ok(configs.includes(f), `${f} is missing`);
  });

  for (const file of configs) {
    test(`sipp-gateway check accepts ${file}`, async () => {
      // No secrets in the environment at all: check must not need them.
      const res = await runCli(['check', '--config', file]);
      assert.equal(res.code, 0, `stderr: ${res.stderr}`);
      assert.equal(res.stdout, `configuration is valid: ${file}\n`);
      assert.equal(res.stderr, '');
    });
  }

  test('check rejects an example with a mistake and names the field (the runner really validates)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipp-configs-'));
    try {
      const broken = join(dir, 'broken.toml');
      writeFileSync(broken, readRepoFile('config/hybrid.toml').replace('requests_per_minute = 60', 'requests_per_minute = 0'));
      const res = await runCli(['check', '--config', broken]);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /security\.rate_limit\.requests_per_minute/);
      assert.equal(res.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no example config embeds a secret value', () => {
    for (const file of configs) {
      const text = readRepoFile(file);
      assert.doesNotMatch(text, /\bsk-[A-Za-z0-9_-]{8,}/, file);
      assert.doesNotMatch(text, /^\s*(api_key|token|password|secret)\s*=/im, file);
    }
  });
});

describe('.env.example', () => {
  const { vars, problems } = parseDotenv(readRepoFile('.env.example'));
  const named = new Map<string, string[]>();
  for (const file of configs) {
    for (const name of secretEnvNames(loadExampleConfig(file))) named.set(name, [...(named.get(name) ?? []), file]);
  }

  test('is well-formed KEY=value lines', () => {
    assert.deepEqual(problems, []);
  });

  test('lists every environment variable any example config names', () => {
    const missing = [...named.keys()].filter((n) => !vars.has(n)).map((n) => `${n} (${named.get(n)!.join(', ')})`);
    assert.deepEqual(missing, []);
  });

  test('lists nothing else but documented non-secret settings', () => {
    const extra = [...vars.keys()].filter((k) => !named.has(k) && !NON_SECRET_SETTINGS.has(k));
    assert.deepEqual(extra, []);
  });

  test('holds placeholders only, usable as-is for a smoke run (distinct, no whitespace)', () => {
    const secrets = [...named.keys()].map((k) => vars.get(k) ?? '');
    for (const [k, v] of vars) {
      if (NON_SECRET_SETTINGS.has(k)) continue;
      assert.match(v, /^replace-with-[a-z0-9-]+$/, `${k} must be a placeholder`);
    }
    assert.equal(new Set(secrets).size, secrets.length, 'placeholders are distinct (bearer tokens must be)');
  });

  test('the parser reports malformed lines and duplicates', () => {
    const r = parseDotenv('A=1\nnot a pair\nA=2\n# ok\n');
    assert.deepEqual(r.problems, ['line 2 is not KEY=value', 'line 3: A is listed twice']);
  });
});
