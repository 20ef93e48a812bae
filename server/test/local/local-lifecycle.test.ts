/**
 * Local target lifecycle through the gateway: a missing model file stops
 * startup before the listeners bind, an invalid one stops loading (readiness
 * stays 503), each with a message naming target and path;
 * a full queue is 429 admission; a client that disconnects mid-stream stops
 * its generation at once and frees the sequence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { until } from '../support/wait.js';
import { getText, postJson } from '../support/http.js';
import { ensureDemoModel, tomlString } from './models.js';

const TOKEN = 'tok-local-lifecycle-987654321';
const ADMIN = 'admin-pw-lifecycle';

const localToml = (model: string, extra = '') => `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tests"
[[targets]]
name = "llm"
type = "local"
model = ${tomlString(model)}
${extra}`;

describe('local model load failures', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipp-local-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Checked before the listeners bind: `serve` stops before its `listening` line.
  const early: Array<[string, () => string, RegExp]> = [
    ['a missing file', () => join(dir, 'absent.gguf'), /does not exist/],
    ['a directory', () => dir, /is not a regular file/],
  ];
  for (const [what, path, message] of early) {
    it(`refuses to start with ${what}, naming target and path, before listening`, async () => {
      const model = path();
      await assert.rejects(
        startTestGateway({ toml: localToml(model), env: { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN }, waitLoaded: false }),
        (err: Error) => {
          assert.equal(err.name, 'StartupError');
          assert.match(err.message, /local target "llm"/);
          assert.ok(err.message.includes(`"${model}"`), err.message);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  const cases: Array<[string, () => string, RegExp]> = [
    [
      'a file that is not GGUF',
      () => (writeFileSync(join(dir, 'text.gguf'), 'not a model at all'), join(dir, 'text.gguf')),
      /is not a GGUF file/,
    ],
    [
      'a truncated GGUF',
      () => (writeFileSync(join(dir, 'cut.gguf'), Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(12)])), join(dir, 'cut.gguf')),
      /could not be loaded/,
    ],
  ];
  for (const [what, path, message] of cases) {
    it(`refuses to become ready with ${what}, naming target and path`, async () => {
      const model = path();
      const gw = await startTestGateway({
        toml: localToml(model),
        env: { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN },
        waitLoaded: false,
      });
      try {
        await assert.rejects(gw.gateway.loaded, (err: Error) => {
          assert.match(err.message, /local target "llm"/);
          assert.ok(err.message.includes(`"${model}"`), err.message);
          assert.match(err.message, message);
          return true;
        });
        assert.equal((await getText(`${gw.managementUrl}/readyz`)).status, 503);
      } finally {
        await gw.stop();
      }
    });
  }
});

describe('local queue and client disconnects', () => {
  let gw: TestGateway;
  const metric = async (name: string) => {
    const text = (await getText(`${gw.managementUrl}/metrics`)).text;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{target="llm"}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  before(async () => {
    // One sequence, no waiting room, a long context: a generation that only ends when told to.
    gw = await startTestGateway({
      toml: localToml(
        ensureDemoModel(),
        `[targets.runtime]
context_size = 16384
parallel = 1
queue_size = 0
`,
      ),
      env: { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  it('a full queue is 429 admission; a disconnect stops generation at once and frees the sequence', async () => {
    const target = gw.gateway.targets.get('llm')!;
    const ac = new AbortController();
    const res = await fetch(`${gw.publicUrl}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llm', prompt: 'Once upon a time', max_tokens: 16000, temperature: 0, stream: true }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /event: token/);
    assert.equal(target.describe().runtime?.busySequences, 1);
    assert.equal(await metric('sipp_gateway_local_busy_sequences'), 1);

    // The only sequence is busy and nobody may wait: 429.
    const refused = await postJson(`${gw.publicUrl}/v1/query`, { model: 'llm', prompt: 'hi', max_tokens: 2 }, { token: TOKEN });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'admission');
    assert.match(refused.body.error.message, /local target "llm" is busy/);

    const generatedBefore = (await metric('sipp_gateway_local_generated_tokens_total')) ?? 0;
    ac.abort();
    // Freed long before the 16000-token generation could have finished.
    await until(() => target.describe().runtime?.busySequences === 0, 'the sequence to be released');
    assert.equal(await metric('sipp_gateway_local_busy_sequences'), 0);
    // An aborted generation is not counted as a finished one.
    assert.equal(await metric('sipp_gateway_local_generated_tokens_total'), generatedBefore);

    const next = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'llm', prompt: 'hi', max_tokens: 3, temperature: 0 },
      { token: TOKEN },
    );
    assert.equal(next.status, 200, next.text);
    assert.equal(next.body.usage.output_tokens, 3);
    // The freed sequence starts clean: same answer as a fresh greedy run.
    const again = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'llm', prompt: 'hi', max_tokens: 3, temperature: 0 },
      { token: TOKEN },
    );
    assert.equal(again.body.text, next.body.text);
    assert.ok(
      gw.logs.some((l) => l.includes('"client_closed_request"') || l.includes('499')),
      'the dropped stream is logged',
    );
  });
});

describe('local client disconnect during prompt processing', () => {
  let gw: TestGateway;
  // ~1,800 characters: hundreds of prompt tokens, evaluated in chunks of batch_size = 16.
  const prompt = 'Once upon a time there was a little fox who lived in the forest. '.repeat(28).slice(0, 1800);
  const body = (extra: object = {}) => JSON.stringify({ model: 'llm', prompt, max_tokens: 1, temperature: 0, ...extra });

  before(async () => {
    gw = await startTestGateway({
      toml: localToml(
        ensureDemoModel(),
        `[targets.runtime]
context_size = 2048
parallel = 1
queue_size = 1
batch_size = 16
`,
      ),
      env: { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  it('frees the slot within one chunk of the prompt, and the next request is served', async () => {
    const target = gw.gateway.targets.get('llm')!;
    // White-box view of how many tokens the target's one sequence has evaluated.
    const evaluated = () =>
      (target as unknown as { ready: { loaded: { sequences: Array<{ tokenMeter: { usedInputTokens: number } }> } } }).ready.loaded
        .sequences[0]!.tokenMeter.usedInputTokens;

    // Uninterrupted run of the same prompt: how many tokens the whole prompt is.
    let before = evaluated();
    const full = await postJson(`${gw.publicUrl}/v1/query`, JSON.parse(body()), { token: TOKEN });
    assert.equal(full.status, 200, full.text);
    const promptTokens = full.body.usage.input_tokens as number;
    assert.ok(promptTokens > 20 * 16, `the prompt spans many chunks (${promptTokens} tokens)`);
    const fullUsed = evaluated() - before;
    assert.ok(fullUsed >= promptTokens - 1, `an uninterrupted run evaluates the whole prompt (${fullUsed} of ${promptTokens})`);

    // Same prompt, streamed: no byte comes back before the prompt is evaluated,
    // so the client gives up while the prompt is being processed.
    before = evaluated();
    const ac = new AbortController();
    const dropped = fetch(`${gw.publicUrl}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body({ stream: true }),
      signal: ac.signal,
    }).catch((err: Error) => err);
    await until(() => target.describe().runtime?.busySequences === 1, 'the sequence to be taken');
    ac.abort();
    assert.equal(((await dropped) as Error).name, 'AbortError');
    await until(() => target.describe().runtime?.busySequences === 0, 'the sequence to be released');
    const used = evaluated() - before;
    assert.ok(used < fullUsed / 2, `released after ${used} of ${fullUsed} prompt tokens`);

    const next = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'llm', prompt: 'hi', max_tokens: 3, temperature: 0 },
      { token: TOKEN },
    );
    assert.equal(next.status, 200, next.text);
    assert.equal(next.body.usage.output_tokens, 3);
    await until(() => gw.logs.some((l) => l.includes('"client_closed_request"')), 'the dropped request to be logged as 499');
  });
});
