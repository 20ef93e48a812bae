/**
 * Real inference on the generated demo model through the HTTP gateway:
 * finite, streamed, stop sequences, max_tokens → length, chat template, embed,
 * concurrency on shared sequences, context overflow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText, parseSse, postJson } from '../support/http.js';
import { demoTargetToml } from './models.js';

const TOKEN = 'tok-local-http-0123456789';

describe('local target over HTTP (generated demo model)', () => {
  let gw: TestGateway;
  const url = (op: string) => `${gw.publicUrl}/v1/${op}`;
  const query = (body: object) => postJson(url('query'), { model: 'demo', temperature: 0, ...body }, { token: TOKEN });

  before(async () => {
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tests"
${demoTargetToml({ context_size: 256, parallel: 2, queue_size: 16, default_max_tokens: 24 }, { keys: 'stats = "profile"' })}`,
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-local-0123456789', T: TOKEN },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  it('is ready once the model is loaded and shows the selected backend', async () => {
    assert.equal((await getText(`${gw.managementUrl}/readyz`)).status, 200);
    const d = gw.gateway.targets.get('demo')!.describe();
    assert.equal(d.backend?.requested, 'auto');
    assert.ok(d.backend?.selected, 'a backend was selected');
    assert.equal(d.runtime?.parallel, 2);
    assert.equal(d.runtime?.threads, 1);
    assert.equal(d.runtime?.chatTemplate, 'model:ChatML');
  });

  it('answers a finite query; max_tokens reached → length, usage counts real tokens', async () => {
    const r = await query({ prompt: 'Once upon a time', max_tokens: 12 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.model, 'demo');
    assert.equal(r.body.finish_reason, 'length');
    assert.ok(r.body.text.length > 0);
    assert.equal(r.body.usage.output_tokens, 12);
    // BOS + the prompt's tokens
    assert.ok(r.body.usage.input_tokens >= 3 && r.body.usage.input_tokens <= 20, JSON.stringify(r.body.usage));
    assert.equal(r.body.usage.total_tokens, r.body.usage.input_tokens + 12);
  });

  it('ends with stop on the end-of-sequence token (the demo model writes </s> after "end")', async () => {
    const r = await query({ prompt: 'this is the end', max_tokens: 50 });
    assert.equal(r.status, 200);
    assert.equal(r.body.finish_reason, 'stop');
    assert.equal(r.body.text, '');
    assert.equal(r.body.usage.output_tokens, 0);
    const s = await query({ prompt: 'this is the end', max_tokens: 50, stream: true });
    const events = parseSse(s.text);
    assert.deepEqual(
      events.map((e) => e.event),
      ['usage', 'done'],
    );
    assert.deepEqual(events.at(-1)!.data, { finish_reason: 'stop' });
  });

  it('uses default_max_tokens when the request gives none', async () => {
    const r = await query({ prompt: 'hello' });
    assert.equal(r.status, 200);
    assert.equal(r.body.usage.output_tokens, 24);
    assert.equal(r.body.finish_reason, 'length');
  });

  it('is deterministic at temperature 0 and varies when sampling', async () => {
    const a = await query({ prompt: 'the story of a', max_tokens: 16 });
    const b = await query({ prompt: 'the story of a', max_tokens: 16 });
    assert.equal(a.body.text, b.body.text);
    const texts = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const s = await query({ prompt: 'the story of a', max_tokens: 16, temperature: 1.5, top_p: 1 });
      texts.add(s.body.text);
    }
    assert.ok(texts.size > 1, 'sampling at temperature 1.5 gives different answers');
  });

  it('samples concurrent identical requests independently (no clock-derived seed)', async () => {
    // The clock stands still, so a seed taken from Date (node-llama-cpp's default
    // is the current second) would be the same for every request.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const body = { prompt: 'the story of a', max_tokens: 16, temperature: 1.5, top_p: 1 };
      const answers = await Promise.all([query(body), query(body), query(body), query(body)]);
      for (const r of answers) assert.equal(r.status, 200, r.text);
      const texts = new Set(answers.map((r) => r.body.text));
      assert.ok(texts.size > 1, `4 concurrent samples at temperature 1.5 differ: ${JSON.stringify([...texts])}`);
    } finally {
      mock.timers.reset();
    }
  });

  it('streams valid frames whose text equals the finite answer', async () => {
    const prompt = 'a quick brown fox';
    const finite = await query({ prompt, max_tokens: 20 });
    const r = await query({ prompt, max_tokens: 20, stream: true });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /text\/event-stream/);
    const events = parseSse(r.text);
    const tokens = events.filter((e) => e.event === 'token');
    assert.ok(tokens.length > 0);
    assert.equal(tokens[0]!.data.sequence, 0);
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]!.data.sequence > tokens[i - 1]!.data.sequence);
    assert.equal(tokens.map((e) => e.data.text).join(''), finite.body.text);
    const usage = events.find((e) => e.event === 'usage')!;
    assert.deepEqual(usage.data, finite.body.usage);
    assert.ok(tokens.at(-1)!.data.sequence < usage.data.output_tokens);
    assert.deepEqual(events.at(-1), { event: 'done', data: { finish_reason: 'length' } });
  });

  it('stops at a stop sequence without emitting it (finite and streamed)', async () => {
    const prompt = 'hello world';
    const full = (await query({ prompt, max_tokens: 40 })).body.text as string;
    // A stop string from the middle of what the model writes greedily.
    const start = Math.floor(full.length / 2);
    const stop = full.slice(start, start + 3);
    assert.ok(stop.length === 3);
    const expected = full.slice(0, full.indexOf(stop));

    const r = await query({ prompt, max_tokens: 40, stop: [stop] });
    assert.equal(r.status, 200);
    assert.equal(r.body.text, expected);
    assert.equal(r.body.finish_reason, 'stop');
    assert.ok(r.body.usage.output_tokens < 40);

    const s = await query({ prompt, max_tokens: 40, stop: ['never-appears-xyz', stop], stream: true });
    const events = parseSse(s.text);
    const text = events
      .filter((e) => e.event === 'token')
      .map((e) => e.data.text)
      .join('');
    assert.equal(text, expected);
    assert.ok(!text.includes(stop));
    assert.deepEqual(events.at(-1), { event: 'done', data: { finish_reason: 'stop' } });
  });

  it('chat applies the model chat template (ChatML from the GGUF)', async () => {
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello' },
    ];
    const r = await postJson(url('chat'), { model: 'demo', messages, max_tokens: 10, temperature: 0 }, { token: TOKEN });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.finish_reason, 'length');
    assert.equal(r.body.usage.output_tokens, 10);
    // Template tokens (<|im_start|>, roles, <|im_end|>) make the prompt longer than the message text.
    const plain = await query({ prompt: 'be brief hello', max_tokens: 1 });
    assert.ok(r.body.usage.input_tokens > plain.body.usage.input_tokens + 4, JSON.stringify([r.body.usage, plain.body.usage]));
  });

  it('embeds into a normalized vector of the model width', async () => {
    const e1 = await postJson(url('embed'), { model: 'demo', input: 'hello world' }, { token: TOKEN });
    assert.equal(e1.status, 200, e1.text);
    const v = e1.body.embedding as number[];
    assert.equal(v.length, 64);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);
    assert.ok(e1.body.usage.input_tokens >= 2);
    const e2 = await postJson(url('embed'), { model: 'demo', input: 'hello world' }, { token: TOKEN });
    assert.deepEqual(e2.body.embedding, v);
    const e3 = await postJson(url('embed'), { model: 'demo', input: 'a dark night on the river' }, { token: TOKEN });
    assert.notDeepEqual(e3.body.embedding, v);
  });

  it('rejects an empty embed input with 400', async () => {
    const r = await postJson(url('embed'), { model: 'demo', input: '' }, { token: TOKEN });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.match(r.body.error.message, /input/);
  });

  it('rejects a prompt longer than the context with 400 naming the field', async () => {
    const r = await query({ prompt: 'hello world '.repeat(300), max_tokens: 4 });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_request');
    assert.match(r.body.error.message, /^prompt: \d+ tokens do not fit the target's context of 256 tokens$/);
  });

  it('stops at the end of the context with length', async () => {
    const r = await query({ prompt: 'hello', max_tokens: 10_000 });
    assert.equal(r.status, 200);
    assert.equal(r.body.finish_reason, 'length');
    assert.equal(r.body.usage.total_tokens, 256);
  });

  it('serves concurrent requests on shared sequences (queueing beyond parallel) with the same answers', async () => {
    const prompts = ['one', 'two three', 'a little bird', 'the moon', 'fire and water', 'quick'];
    const sequential = [];
    for (const p of prompts) sequential.push((await query({ prompt: p, max_tokens: 16 })).body.text);
    const concurrent = await Promise.all(prompts.map((p) => query({ prompt: p, max_tokens: 16 })));
    for (const [i, r] of concurrent.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.body.usage.output_tokens, 16);
      assert.equal(r.body.text, sequential[i], `prompt ${i} answered the same when batched`);
    }
    const d = gw.gateway.targets.get('demo')!.describe();
    assert.equal(d.runtime?.busySequences, 0);
    assert.equal(d.runtime?.queueDepth, 0);
  });

  it('profile mode records the last request phase timings', async () => {
    await query({ prompt: 'hello', max_tokens: 5 });
    const p = gw.gateway.targets.get('demo')!.describe().profile!;
    assert.equal(p.lastOutputTokens, 5);
    for (const k of ['lastQueueWaitMs', 'lastPromptProcessingMs', 'lastGenerationMs', 'lastTimeToFirstTokenMs']) {
      assert.equal(typeof p[k], 'number', k);
      assert.ok((p[k] as number) >= 0, k);
    }
  });
});
