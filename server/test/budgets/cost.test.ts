/**
 * Cost (docs/budgets.md#cost) on every surface, with the official SDKs
 * against real fake providers: finite, streamed, cached (OpenAI
 * `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`
 * / `cache_creation_input_tokens`) and aborted requests, on the pass-through
 * paths (OpenAI chat → openai, Anthropic → anthropic) and the translated ones
 * (Sipp, Responses, OpenAI chat → anthropic); a failure before any token
 * costs 0; the metric sums the records by target.
 *
 * Prices: gpt 2 / 8 / cache read 0.5; claude 3 / 15 / cache read 0.3 / cache write 3.75 (USD per Mtok).
 * gpt usage 100 in (40 cached) + 20 out = (60×2 + 40×0.5 + 20×8) / 1e6 = 300e-6.
 * claude usage 50 in + 200 cache read + 100 cache write + 10 out = (150 + 60 + 375 + 150) / 1e6 = 735e-6.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { RequestRecord } from '@sipp/shared';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';
import { until } from '../support/wait.js';

const TOKEN = 'tok-cost-0123456789abcdef';
const GPT_COST = 300e-6;
const CLAUDE_COST = 735e-6;

const close = (a: number | undefined, b: number, what: string) =>
  assert.ok(a !== undefined && Math.abs(a - b) < 1e-12, `${what}: cost ${a}, expected ${b}`);

describe('cost of a request, on every surface', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gw: TestGateway;
  let records: RequestRecord[];
  let oai: OpenAI;
  let ant: Anthropic;

  before(async () => {
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    records = [];
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "team"
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 5
pricing = { input_per_mtok = 2, output_per_mtok = 8, cache_read_per_mtok = 0.5 }
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
timeout_seconds = 5
pricing = { input_per_mtok = 3, output_per_mtok = 15, cache_read_per_mtok = 0.3, cache_write_per_mtok = 3.75 }
[[targets]]
name = "free"
type = "openai_compatible"
model = "m"
token_env = "OPENAI_KEY"
base_url = "${openai.url}"
`,
      env: {
        TEST_ADMIN_PASSWORD: 'pw-cost-test-0123456789',
        T: TOKEN,
        OPENAI_KEY: openai.apiKey,
        ANTHROPIC_KEY: anthropic.apiKey,
      },
      logLevel: 'warn',
      modules: [{ name: 'capture', afterFinish: (r) => void records.push(r) }],
    });
    oai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    ant = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
    await anthropic?.close();
  });
  beforeEach(() => {
    records.length = 0;
    openai.setBehavior({ kind: 'normal' });
    anthropic.setBehavior({ kind: 'normal' });
    openai.setReply({ promptTokens: 100, completionTokens: 20, cachedTokens: 40 });
    anthropic.setReply({ inputTokens: 50, outputTokens: 10, cacheReadTokens: 200, cacheCreationTokens: 100 });
  });

  /** The one record of the request just made (afterFinish runs once the answer is out: wait for it). */
  const recordOf = async (): Promise<RequestRecord> => {
    await until(() => records.length > 0, 'the request record');
    assert.equal(records.length, 1);
    return records[0]!;
  };

  it('OpenAI chat → openai (pass-through), finite and streamed: cached input priced apart', async () => {
    await oai.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] });
    let r = await recordOf();
    assert.deepEqual([r.inputTokens, r.outputTokens, r.cacheReadTokens, r.cacheWriteTokens], [100, 20, 40, 0]);
    close(r.costUsd, GPT_COST, 'finite');
    records.length = 0;
    const stream = await oai.chat.completions.create({
      model: 'gpt',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream);
    r = await recordOf();
    close(r.costUsd, GPT_COST, 'streamed');
  });

  it('Anthropic messages → anthropic (pass-through), finite and streamed: cache reads and writes priced apart', async () => {
    const m = await ant.messages.create({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(m.usage.cache_read_input_tokens, 200);
    let r = await recordOf();
    assert.deepEqual([r.inputTokens, r.outputTokens, r.cacheReadTokens, r.cacheWriteTokens], [350, 10, 200, 100]);
    close(r.costUsd, CLAUDE_COST, 'finite');
    records.length = 0;
    const stream = ant.messages.stream({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    await stream.finalMessage();
    r = await recordOf();
    close(r.costUsd, CLAUDE_COST, 'streamed');
  });

  it('translated paths: Sipp and Responses on both providers, OpenAI chat on anthropic, finite and streamed', async () => {
    const cases: Array<[string, () => Promise<unknown>, number]> = [
      [
        'sipp chat gpt',
        () =>
          postJson(`${gw.publicUrl}/v1/chat`, { model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }, { token: TOKEN }),
        GPT_COST,
      ],
      [
        'sipp chat gpt stream',
        async () => {
          const res = await fetch(`${gw.publicUrl}/v1/chat`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true }),
          });
          const text = await res.text();
          // The Sipp usage frame keeps its three counts (the cache counts are internal).
          assert.match(text, /event: usage\ndata: \{"input_tokens":100,"output_tokens":20,"total_tokens":120\}/);
        },
        GPT_COST,
      ],
      ['responses claude', () => oai.responses.create({ model: 'claude', input: 'hi', max_output_tokens: 30 }), CLAUDE_COST],
      [
        'responses claude stream',
        async () => {
          const s = oai.responses.stream({ model: 'claude', input: 'hi', max_output_tokens: 30 });
          const final = await s.finalResponse();
          assert.equal(final.usage?.input_tokens_details.cached_tokens, 200);
        },
        CLAUDE_COST,
      ],
      ['responses gpt', () => oai.responses.create({ model: 'gpt', input: 'hi' }), GPT_COST],
      [
        'openai chat claude',
        () => oai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
        CLAUDE_COST,
      ],
      [
        'anthropic gpt',
        () => ant.messages.create({ model: 'gpt', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
        GPT_COST,
      ],
    ];
    for (const [what, call, cost] of cases) {
      records.length = 0;
      await call();
      const r = await recordOf();
      close(r.costUsd, cost, what);
    }
  });

  it('counting tokens costs nothing (count_tokens is not an inference)', async () => {
    // Bug caught: pricing every record with tokens charges the counted input of count_tokens.
    // On an openai target the gateway estimates the count itself (docs/api.md#count-tokens) and records it.
    const counted = await ant.messages.countTokens({ model: 'gpt', messages: [{ role: 'user', content: 'hello there' }] });
    const r = await recordOf();
    assert.ok(counted.input_tokens > 0);
    assert.equal(r.inputTokens, counted.input_tokens);
    assert.ok(!r.costUsd, `cost ${r.costUsd}`);
  });

  it('an unpriced target costs 0; a failure before any token costs 0', async () => {
    await oai.chat.completions.create({ model: 'free', messages: [{ role: 'user', content: 'hi' }] });
    let r = await recordOf();
    assert.equal(r.inputTokens, 100);
    assert.equal(r.costUsd, 0);
    records.length = 0;
    openai.setBehavior({ kind: 'status', status: 500 });
    await assert.rejects(oai.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }] }));
    r = await recordOf();
    assert.equal(r.status, 500);
    assert.equal(r.costUsd, 0);
  });

  it('an aborted stream costs what was generated: the output streamed so far and its input', async () => {
    // Anthropic pass-through: message_start (input and cache usage), block start, ping, two text deltas, then nothing.
    anthropic.setBehavior({ kind: 'stall', afterChunks: 5 });
    const ac = new AbortController();
    const s = await ant.messages.create(
      { model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], stream: true },
      { signal: ac.signal },
    );
    let deltas = 0;
    // The SDKs end (or throw from) the iteration on abort: either way the client is gone.
    await (async () => {
      for await (const e of s) if (e.type === 'content_block_delta' && ++deltas === 2) ac.abort();
    })().catch(() => {});
    assert.equal(deltas, 2);
    let r = await recordOf();
    assert.equal(r.code, 'client_closed_request');
    assert.deepEqual([r.inputTokens, r.outputTokens], [350, 2]);
    close(r.costUsd, (50 * 3 + 200 * 0.3 + 100 * 3.75 + 2 * 15) / 1e6, 'anthropic aborted');

    // OpenAI pass-through (no usage before the end): two content deltas; input estimated from the body.
    for (const [what, open] of [
      [
        'openai chat',
        () =>
          oai.chat.completions.create(
            { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true },
            { signal: ac2.signal },
          ),
      ],
      ['responses', () => oai.responses.create({ model: 'gpt', input: 'hi', stream: true }, { signal: ac2.signal })],
    ] as const) {
      records.length = 0;
      openai.setBehavior({ kind: 'stall', afterChunks: 3 });
      ac2 = new AbortController();
      const st = await (open as () => Promise<AsyncIterable<any>>)();
      let seen = 0;
      await (async () => {
        for await (const e of st) {
          const text = e.choices?.[0]?.delta?.content ?? (e.type === 'response.output_text.delta' ? e.delta : '');
          if (text && ++seen === 2) ac2.abort();
        }
      })().catch(() => {});
      assert.equal(seen, 2, what);
      r = await recordOf();
      assert.equal(r.code, 'client_closed_request', what);
      assert.equal(r.outputTokens, 2, what);
      assert.ok(r.inputTokens > 0, what);
      close(r.costUsd, (r.inputTokens * 2 + 2 * 8) / 1e6, `${what} aborted`);
    }
  });

  it('a Sipp stream aborted after two tokens, and a pass-through stream that never reports usage, cost what was streamed', async () => {
    openai.setBehavior({ kind: 'stall', afterChunks: 3 });
    const ac = new AbortController();
    const res = await fetch(`${gw.publicUrl}/v1/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/event: token/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    let r = await recordOf();
    assert.equal(r.code, 'client_closed_request');
    assert.equal(r.outputTokens, 2);
    assert.ok(r.inputTokens > 0);
    close(r.costUsd, (r.inputTokens * 2 + 2 * 8) / 1e6, 'sipp aborted');

    // Without stream_options.include_usage the provider sends no usage: the three deltas and the estimated input.
    records.length = 0;
    openai.setBehavior({ kind: 'normal' });
    const stream = await oai.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _ of stream);
    r = await recordOf();
    assert.equal(r.code, null);
    assert.equal(r.outputTokens, 3);
    assert.ok(r.inputTokens > 0);
    close(r.costUsd, (r.inputTokens * 2 + 3 * 8) / 1e6, 'no usage');
  });

  it('sipp_gateway_cost_usd_total{target} counts every priced request, without key or caller labels', async () => {
    const before = await costMetric(gw, 'claude');
    await ant.messages.create({ model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    await recordOf();
    close((await costMetric(gw, 'claude')) - before, CLAUDE_COST, 'metric');
    const text = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    for (const line of text.split('\n').filter((l) => l.startsWith('sipp_gateway_cost_usd_total')))
      assert.doesNotMatch(line, /caller|key/);
  });
});

let ac2 = new AbortController();

async function costMetric(gw: TestGateway, target: string): Promise<number> {
  const text = await (await fetch(`${gw.managementUrl}/metrics`)).text();
  const m = new RegExp(`^sipp_gateway_cost_usd_total\\{target="${target}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
