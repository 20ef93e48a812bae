/**
 * Model names agents send (docs/configuration.md#aliases, docs/api.md#models,
 * docs/api.md#count-tokens): `aliases` on targets and groups (an exact alias
 * beats any glob; the longest glob beats a shorter one), `check`'s refusals,
 * allowlists applied to what an alias resolves to, `/v1/models` and
 * `/v1/models/{id}` in the OpenAI and the Anthropic shape, and
 * `POST /v1/messages/count_tokens` on every target type. Official SDKs.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { demoTargetToml } from '../local/models.js';

const FULL = 'tok-aliases-full-0123456789';
const CLAUDE_ONLY = 'tok-aliases-claude-0123456789';

const configWith = (targets: string) => `public_bind = "127.0.0.1:0"
management_bind = "127.0.0.1:0"
${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
${targets}`;

describe('aliases: config check', () => {
  const target = (name: string, aliases: string) => `[[targets]]
name = "${name}"
type = "openai"
model = "m"
api_key_env = "K"
aliases = ${aliases}
`;
  it('accepts exact names and globs on targets and groups', () => {
    const cfg = parseConfigText(
      configWith(`${target('a', '["claude-*", "gpt-5"]')}${target('b', '["claude-opus-*"]')}[[groups]]
name = "g"
targets = ["a", "b"]
aliases = ["smart-*"]
`),
    );
    assert.deepEqual(cfg.targets[0]!.aliases, ['claude-*', 'gpt-5']);
  });
  it('refuses an alias two targets claim, naming the field', () => {
    assert.throws(
      () => parseConfigText(configWith(`${target('a', '["gpt-5"]')}${target('b', '["gpt-5"]')}`)),
      /targets\[1\]\.aliases\[0\]: alias "gpt-5" is already claimed by "a"/,
    );
    assert.throws(
      () => parseConfigText(configWith(`${target('a', '["x-*"]')}${target('b', '["x-*"]')}`)),
      /already claimed by "a"/,
    );
  });
  it('refuses an alias that shadows a target or group name', () => {
    assert.throws(
      () => parseConfigText(configWith(`${target('a', '["b"]')}${target('b', '[]')}`)),
      /targets\[0\]\.aliases\[0\]: "b" is already a target or group name/,
    );
    assert.throws(
      () =>
        parseConfigText(
          configWith(`${target('a', '[]')}[[groups]]
name = "g"
targets = ["a"]
aliases = ["a"]
`),
        ),
      /groups\[0\]\.aliases\[0\]: "a" is already a target or group name/,
    );
  });
  it('refuses a bare "*" alias', () => {
    assert.throws(() => parseConfigText(configWith(target('a', '["*"]'))), /besides "\*"/);
  });
});

describe('aliases, model routes and count_tokens through a gateway', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAI;
  let gw: TestGateway;
  const claudeSdk = (key: string) => new Anthropic({ baseURL: gw.publicUrl, apiKey: key, maxRetries: 0 });
  const openaiSdk = (key: string) => new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: key, maxRetries: 0 });

  before(async () => {
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-aliases-1' });
    openai = await startFakeOpenAI({ apiKey: 'sk-openai-aliases-2' });
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T_FULL"
caller = "full"
[[tokens]]
env = "T_CLAUDE"
caller = "claude-only"
targets = ["claude"]
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-upstream"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
aliases = ["claude-*", "claude-opus-4"]
[[targets]]
name = "claude-big"
type = "anthropic"
model = "claude-big-upstream"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
aliases = ["claude-opus-*"]
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-upstream"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
${demoTargetToml({ context_size: 512, parallel: 1, default_max_tokens: 4 })}[[groups]]
name = "coding"
targets = ["gpt", "claude"]
aliases = ["gpt-5*"]
`,
      env: {
        TEST_ADMIN_PASSWORD: 'pw-aliases-0123456789',
        T_FULL: FULL,
        T_CLAUDE: CLAUDE_ONLY,
        ANTHROPIC_KEY: anthropic.apiKey,
        OPENAI_KEY: openai.apiKey,
      },
    });
  });
  after(async () => {
    await gw?.stop();
    await anthropic?.close();
    await openai?.close();
  });

  const servedBy = async (key: string, model: string): Promise<string | null> => {
    const { data, response } = await claudeSdk(key)
      .messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(data.model, model, 'the answer names the model asked');
    return response.headers.get('x-sipp-target');
  };

  it('resolves aliases: names first, an exact alias beats any glob, the longest glob beats a shorter one', async () => {
    assert.equal(await servedBy(FULL, 'claude-big'), 'claude-big', 'a target name is itself');
    assert.equal(await servedBy(FULL, 'claude-opus-4'), 'claude', 'exact alias beats the claude-opus-* glob');
    assert.equal(await servedBy(FULL, 'claude-opus-4-1'), 'claude-big', 'claude-opus-* is longer than claude-*');
    assert.equal(await servedBy(FULL, 'claude-haiku-4-5-20251001'), 'claude');
    assert.equal(anthropic.requests.at(-1)!.body.model, 'claude-upstream');
    assert.equal(await servedBy(FULL, 'gpt-5-codex'), 'gpt', 'a group alias routes through the group (first member gpt)');
    const miss: any = await claudeSdk(FULL)
      .messages.create({ model: 'gemini-pro', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.equal(miss.status, 404);
  });

  it('allowlists apply to what an alias resolves to', async () => {
    assert.equal(await servedBy(CLAUDE_ONLY, 'claude-sonnet-4-5'), 'claude');
    const denied: any = await claudeSdk(CLAUDE_ONLY)
      .messages.create({ model: 'claude-opus-4-1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    assert.equal(denied.status, 403, 'claude-opus-4-1 is claude-big, which the token may not use');
  });

  it('/v1/models lists targets, groups and exact aliases the token may use, in both shapes', async () => {
    const all = [];
    for await (const m of openaiSdk(FULL).models.list()) all.push(m.id);
    assert.deepEqual(all, ['claude', 'claude-big', 'gpt', 'demo', 'coding', 'claude-opus-4']);
    const some = [];
    for await (const m of openaiSdk(CLAUDE_ONLY).models.list()) some.push(m.id);
    assert.deepEqual(some, ['claude', 'claude-opus-4']);
    const page = await claudeSdk(CLAUDE_ONLY).models.list();
    assert.deepEqual(
      page.data.map((m) => [m.type, m.id]),
      [
        ['model', 'claude'],
        ['model', 'claude-opus-4'],
      ],
    );
  });

  it('/v1/models/{id}: id is the name asked (OpenAI shape; Anthropic shape with anthropic-version); 404 when unknown or not allowed', async () => {
    const o = await openaiSdk(FULL).models.retrieve('claude-haiku-4-5');
    assert.deepEqual({ ...o }, { id: 'claude-haiku-4-5', object: 'model', created: 0, owned_by: 'sipp-gateway' });
    const a = await claudeSdk(CLAUDE_ONLY).models.retrieve('claude-sonnet-4-5');
    assert.equal(a.type, 'model');
    assert.equal(a.id, 'claude-sonnet-4-5');
    assert.equal(a.display_name, 'claude-sonnet-4-5');
    const unknown: any = await openaiSdk(FULL)
      .models.retrieve('gemini')
      .catch((e) => e);
    assert.equal(unknown.status, 404);
    const hidden: any = await claudeSdk(CLAUDE_ONLY)
      .models.retrieve('gpt')
      .catch((e) => e);
    assert.equal(hidden.status, 404);
    assert.equal(hidden.error.error.type, 'not_found_error');
    const noToken = await fetch(`${gw.publicUrl}/v1/models/gpt`);
    assert.equal(noToken.status, 401);
  });

  it('count_tokens: forwarded to anthropic targets, the tokenizer on local targets, an estimate elsewhere', async () => {
    const messages = [
      { role: 'user' as const, content: 'Count these words please' },
      { role: 'assistant' as const, content: 'ok' },
      { role: 'user' as const, content: 'now' },
    ];
    const sdk = claudeSdk(FULL);
    const forwarded = await sdk.messages.countTokens(
      { model: 'claude-sonnet-4-5', messages, system: 'be brief' },
      { headers: { 'anthropic-beta': 'token-counting-2024-11-01' } },
    );
    assert.equal(forwarded.input_tokens, 1003);
    const got = anthropic.requests.at(-1)!;
    assert.equal(got.path, '/v1/messages/count_tokens');
    assert.deepEqual(got.body, { model: 'claude-upstream', messages, system: 'be brief' });
    assert.equal(got.headers['anthropic-beta'], 'token-counting-2024-11-01');

    const estimated = await sdk.messages.countTokens({ model: 'gpt', messages, system: 'be brief' });
    const chars = 'be brief'.length + 'Count these words please'.length + 'ok'.length + 'now'.length;
    assert.equal(estimated.input_tokens, Math.ceil(chars / 4));

    const local = await sdk.messages.countTokens({ model: 'demo', messages });
    const generated = await sdk.messages.create({ model: 'demo', max_tokens: 1, messages });
    assert.equal(local.input_tokens, generated.usage.input_tokens, 'the same tokens the model is fed');
    assert.ok(local.input_tokens > 0);

    const denied: any = await claudeSdk(CLAUDE_ONLY)
      .messages.countTokens({ model: 'gpt', messages })
      .catch((e) => e);
    assert.equal(denied.status, 403);
  });
});
