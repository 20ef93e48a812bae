/**
 * Across APIs (docs/api.md#ignored-fields): hint-only fields are translated
 * where the target has an equivalent (Anthropic thinking / output_config.effort
 * ↔ OpenAI reasoning_effort on reasoning models) and otherwise ignored, named in
 * x-sipp-ignored and counted, never a 400; `role: "system"` inside Anthropic
 * messages becomes a system message; fields that change the answer are still
 * refused. Official SDKs, fake providers recording what they receive, and the
 * demo model on a local target.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { demoTargetToml } from '../local/models.js';
import { requestRecords } from './setup.js';

const TOKEN = 'tok-hints-0123456789';

/** What Claude Code sends (no tools: the local target here takes none). */
const claudeCode = (model: string) => ({
  model,
  max_tokens: 64,
  system: [{ type: 'text', text: 'You are an agent.', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'hm', signature: 'sig' },
        { type: 'text', text: 'hello' },
      ],
    },
    { role: 'system', content: 'mid-conversation note' },
    { role: 'user', content: 'go on' },
  ],
  thinking: { type: 'adaptive' },
  output_config: { effort: 'high' },
  context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
  metadata: { user_id: 'u-1' },
  service_tier: 'auto',
});

describe('across APIs: translate what maps, ignore hints by name, refuse what changes the answer', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAI;
  let gw: TestGateway;
  let claude: Anthropic;
  let oai: OpenAI;

  before(async () => {
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-hints-0123456789' });
    openai = await startFakeOpenAI({ apiKey: 'sk-openai-hints-2' });
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "agent"
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-upstream"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
[[targets]]
name = "gpt5"
type = "openai"
model = "gpt-5-mini"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
[[targets]]
name = "gpt4"
type = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
${demoTargetToml({ context_size: 512, parallel: 1, default_max_tokens: 8 })}`,
      env: { TEST_ADMIN_PASSWORD: 'pw-hints-0123456789', T: TOKEN, ANTHROPIC_KEY: anthropic.apiKey, OPENAI_KEY: openai.apiKey },
    });
    claude = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
    oai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await anthropic?.close();
    await openai?.close();
  });

  const ignored = (h: Headers): string[] => (h.get('x-sipp-ignored') ?? '').split(',').filter(Boolean);

  it('Anthropic Messages → OpenAI reasoning model: thinking/effort become reasoning_effort, system messages stay system, hints named', async () => {
    const { data, response } = await claude.messages
      .create(claudeCode('gpt5') as any, { headers: { 'anthropic-beta': 'context-management-2025-06-27' } })
      .withResponse();
    assert.equal(response.status, 200);
    assert.deepEqual(data.content, [{ type: 'text', text: 'Gateway ready' }]);
    assert.deepEqual(ignored(response.headers), [
      'anthropic-beta',
      'cache_control',
      'context_management',
      'service_tier',
      'thinking',
    ]);
    const sent = openai.requests.at(-1)!.body;
    assert.equal(sent.reasoning_effort, 'high', 'output_config.effort wins over adaptive');
    assert.deepEqual(
      sent.messages.map((m: any) => m.role),
      ['system', 'user', 'assistant', 'system', 'user'],
    );
    assert.equal(sent.messages[3].content, 'mid-conversation note');
    assert.ok(!JSON.stringify(sent).includes('cache_control'));
    assert.ok(!JSON.stringify(sent).includes('"hm"'), 'thinking blocks are not sent to another API');
    const rec = requestRecords(gw).at(-1);
    assert.deepEqual(rec.ignored, ['anthropic-beta', 'cache_control', 'context_management', 'service_tier', 'thinking']);
    const metrics = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    assert.match(metrics, /sipp_gateway_ignored_fields_total\{api="anthropic",field="context_management"\} [1-9]/);
  });

  it('Anthropic Messages → OpenAI model that cannot think: thinking and output_config are ignored by name (streaming too)', async () => {
    const { response } = await claude.messages.create(claudeCode('gpt4') as any).withResponse();
    assert.deepEqual(ignored(response.headers), [
      'cache_control',
      'context_management',
      'output_config',
      'service_tier',
      'thinking',
    ]);
    assert.equal(openai.requests.at(-1)!.body.reasoning_effort, undefined);
    const res = await fetch(`${gw.publicUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ ...claudeCode('gpt4'), stream: true }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(ignored(res.headers), ['cache_control', 'context_management', 'output_config', 'service_tier', 'thinking']);
    assert.match(await res.text(), /event: message_stop/);
  });

  it('Anthropic Messages → local target: hints ignored by name, the inner system message reaches the chat template', async () => {
    const { data, response } = await claude.messages.create({ ...claudeCode('demo'), max_tokens: 4 } as any).withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.model, 'demo');
    assert.deepEqual(ignored(response.headers), [
      'cache_control',
      'context_management',
      'output_config',
      'service_tier',
      'thinking',
    ]);
  });

  it('Chat Completions → Anthropic: reasoning_effort becomes a thinking budget; OpenAI hints are ignored by name, not refused', async () => {
    const { data, response } = await oai.chat.completions
      .create({
        model: 'claude',
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 4000,
        reasoning_effort: 'low',
        prompt_cache_key: 'k-1',
        store: true,
        service_tier: 'flex',
        metadata: { run: '1' },
      } as any)
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.choices[0]!.message.content, 'Hello from Claude');
    assert.deepEqual(ignored(response.headers), ['metadata', 'prompt_cache_key', 'service_tier', 'store']);
    const sent = anthropic.requests.at(-1)!.body;
    assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 2048 });
    for (const k of ['prompt_cache_key', 'store', 'service_tier', 'metadata']) assert.equal(sent[k], undefined, k);

    // No room for Anthropic's minimum thinking budget: the hint is ignored by name.
    const small = await oai.chat.completions
      .create({
        model: 'claude',
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 100,
        reasoning_effort: 'high',
      })
      .withResponse();
    assert.deepEqual(ignored(small.response.headers), ['reasoning_effort']);
    assert.equal(anthropic.requests.at(-1)!.body.thinking, undefined);
  });

  it('Chat Completions → local target: reasoning_effort and prompt_cache_key ignored by name', async () => {
    const r = await oai.chat.completions
      .create({
        model: 'demo',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
        reasoning_effort: 'medium',
        prompt_cache_key: 'k',
      } as any)
      .withResponse();
    assert.equal(r.response.status, 200);
    assert.deepEqual(ignored(r.response.headers), ['prompt_cache_key', 'reasoning_effort']);
  });

  it('fields that change the answer are still refused with a 400 naming them', async () => {
    const topK: any = await claude.messages
      .create({ model: 'gpt5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], top_k: 5 } as any)
      .catch((e) => e);
    assert.equal(topK.status, 400);
    assert.match(topK.error.error.message, /top_k/);
    const n: any = await oai.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], n: 2 })
      .catch((e) => e);
    assert.equal(n.status, 400);
    assert.equal(n.param, 'n');
    const fmt: any = await claude.messages
      .create({
        model: 'demo',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'hi' }],
        output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
      } as any)
      .catch((e) => e);
    assert.equal(fmt.status, 400, 'structured output to a target without response_format');
    assert.match(fmt.error.error.message, /response_format|output_config/);
  });
});
