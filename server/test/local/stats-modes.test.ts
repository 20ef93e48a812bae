/**
 * `stats` = off | basic | profile, seen through the gateway's /metrics and the
 * target description: off exports nothing, basic the runtime metrics (label
 * `target` only), profile adds phase timings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText, postJson } from '../support/http.js';
import { ensureDemoModel, tomlString } from './models.js';

const TOKEN = 'tok-local-stats-5555555555';

const BASIC = [
  'sipp_gateway_local_generated_tokens_total',
  'sipp_gateway_local_tokens_per_second',
  'sipp_gateway_local_time_to_first_token_seconds_count',
  'sipp_gateway_local_queue_depth',
  'sipp_gateway_local_busy_sequences',
];
const PROFILE = [
  'sipp_gateway_local_prompt_processing_seconds_count',
  'sipp_gateway_local_generation_seconds_count',
  'sipp_gateway_local_queue_wait_seconds_count',
];

describe('local stats modes', () => {
  let gw: TestGateway;
  let metrics: string;
  const series = (name: string, target: string) => metrics.split('\n').find((l) => l.startsWith(`${name}{target="${target}"}`));
  const value = (name: string, target: string) => Number(series(name, target)?.split(' ').at(-1));

  before(async () => {
    const model = tomlString(ensureDemoModel());
    const target = (name: string, stats: string) => `[[targets]]
name = "${name}"
type = "local"
model = ${model}
stats = "${stats}"
[targets.runtime]
context_size = 128
parallel = 1
`;
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tests"
${target('quiet', 'off')}
${target('basic', 'basic')}
${target('deep', 'profile')}`,
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-stats-0123456789', T: TOKEN },
    });
    for (const name of ['quiet', 'basic', 'deep']) {
      const r = await postJson(`${gw.publicUrl}/v1/query`, { model: name, prompt: 'hello', max_tokens: 7 }, { token: TOKEN });
      assert.equal(r.status, 200, r.text);
    }
    metrics = (await getText(`${gw.managementUrl}/metrics`)).text;
  });
  after(async () => {
    await gw?.stop();
  });

  it('off exports no runtime metric and no profile', () => {
    const local = metrics.split('\n').filter((l) => l.startsWith('sipp_gateway_local_'));
    assert.ok(local.length > 0);
    assert.ok(!local.some((l) => l.includes('target="quiet"')), 'no runtime series for the stats = off target');
    const d = gw.gateway.targets.get('quiet')!.describe();
    assert.equal(d.stats, 'off');
    assert.equal(d.profile, undefined);
    assert.equal(d.runtime?.tokensPerSecond, undefined);
    assert.equal(d.runtime?.busySequences, 0, 'live pool numbers are still described');
  });

  it('basic exports the runtime metrics with the target label only', () => {
    for (const name of BASIC) assert.ok(series(name, 'basic'), `${name} for basic`);
    for (const name of PROFILE) assert.equal(series(name, 'basic'), undefined, `${name} is profile only`);
    assert.equal(value('sipp_gateway_local_generated_tokens_total', 'basic'), 7);
    assert.ok(value('sipp_gateway_local_tokens_per_second', 'basic') > 0);
    assert.equal(value('sipp_gateway_local_time_to_first_token_seconds_count', 'basic'), 1);
    assert.equal(value('sipp_gateway_local_busy_sequences', 'basic'), 0);
    assert.equal(value('sipp_gateway_local_queue_depth', 'basic'), 0);
    for (const line of metrics.split('\n').filter((l) => l.startsWith('sipp_gateway_local_'))) {
      const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
      const names = labels
        .split(',')
        .map((kv) => kv.split('=')[0])
        .filter((n) => n !== 'le');
      assert.deepEqual(names, ['target'], line);
    }
    const d = gw.gateway.targets.get('basic')!.describe();
    assert.equal(d.profile, undefined);
    assert.equal(d.runtime?.generatedTokens, 7);
  });

  it('profile adds phase timings to metrics and the description', () => {
    for (const name of [...BASIC, ...PROFILE]) assert.ok(series(name, 'deep'), `${name} for deep`);
    assert.equal(value('sipp_gateway_local_generation_seconds_count', 'deep'), 1);
    const p = gw.gateway.targets.get('deep')!.describe().profile!;
    assert.equal(p.lastOutputTokens, 7);
    assert.equal(typeof p.lastPromptProcessingMs, 'number');
    assert.equal(typeof p.lastGenerationMs, 'number');
  });
});
