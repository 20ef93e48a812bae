/**
 * A client's own mistakes are the client's 4xx, never the gateway's 5xx
 * (docs/api.md#client-mistakes-the-gateway-refuses): what the gateway can know
 * is refused with 400 naming the field before any upstream attempt; what only
 * the provider can know comes back as the provider's 4xx with its message, is
 * never retried, never falls over and never counts against a circuit.
 * Clients are the official OpenAI and Anthropic SDKs; providers are fakes that
 * record what they receive.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';

const TOKEN = 'tok-client-mistakes-0123456789';
const ADMIN = 'admin-pw-client-mistakes-0123';
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function toml(openai: FakeOpenAI, anthropic: FakeAnthropic, top = ''): string {
  return `${top}
${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 5
[targets.circuit]
failure_threshold = 1
open_seconds = 600
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
timeout_seconds = 5
[targets.circuit]
failure_threshold = 1
open_seconds = 600
[[groups]]
name = "both"
targets = ["gpt", "claude"]
[groups.retry]
attempts = 3
backoff_ms = 1
max_backoff_ms = 1
[[groups]]
name = "both-rev"
targets = ["claude", "gpt"]
[groups.retry]
attempts = 3
backoff_ms = 1
max_backoff_ms = 1
`;
}

/** The status, param and message of an SDK error (or fails when the call succeeded). */
async function refusal(call: () => Promise<unknown>): Promise<{ status: number; param: string | null; message: string }> {
  try {
    await call();
  } catch (err) {
    // The OpenAI SDK's `error` is the body's `error` object; the Anthropic SDK's is the whole body.
    if (err instanceof OpenAI.APIError) {
      const e = err.error as { param?: string | null; message?: string } | undefined;
      return { status: err.status ?? 0, param: e?.param ?? null, message: e?.message ?? err.message };
    }
    if (err instanceof Anthropic.APIError) {
      const e = err.error as { error?: { message?: string } } | undefined;
      return { status: err.status ?? 0, param: null, message: e?.error?.message ?? err.message };
    }
    throw err;
  }
  assert.fail('the request succeeded');
}

describe('client mistakes', () => {
  let openaiFake: FakeOpenAI;
  let anthropicFake: FakeAnthropic;
  let gw: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  const upstreamCalls = () => openaiFake.requests.length + anthropicFake.requests.length;

  before(async () => {
    openaiFake = await startFakeOpenAI({ apiKey: 'sk-openai-client-mistakes-secret-1' });
    anthropicFake = await startFakeAnthropic({ apiKey: 'sk-ant-client-mistakes-secret-2' });
    gw = await startTestGateway({
      toml: toml(openaiFake, anthropicFake),
      env: { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, OPENAI_KEY: openaiFake.apiKey, ANTHROPIC_KEY: anthropicFake.apiKey },
    });
    openai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await openaiFake?.close();
    await anthropicFake?.close();
  });

  describe('the gateway refuses what it can know: 400 naming the field, no upstream attempt', () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } },
    ];
    const user = (content: OpenAI.ChatCompletionContentPart[]): OpenAI.ChatCompletionMessageParam => ({ role: 'user', content });
    const openaiCases: Array<[string, OpenAI.ChatCompletionCreateParamsNonStreaming, string, RegExp]> = [
      [
        'tool_choice naming a missing tool',
        {
          model: 'claude',
          messages: [{ role: 'user', content: 'x' }],
          tools,
          tool_choice: { type: 'function', function: { name: 'nope' } },
        },
        'tool_choice.function.name',
        /tool "nope", which is not in tools/,
      ],
      [
        'tool_choice required without tools',
        { model: 'claude', messages: [{ role: 'user', content: 'x' }], tool_choice: 'required' },
        'tool_choice',
        /no tools are given/,
      ],
      [
        'a tool message answering no call',
        {
          model: 'claude',
          messages: [
            { role: 'user', content: 'x' },
            { role: 'tool', tool_call_id: 'call_9', content: 'r' },
          ],
        },
        'messages.1.tool_call_id',
        /"call_9", which no earlier assistant message made/,
      ],
      [
        'invalid base64 image data',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,not base64!' } }])] },
        'messages.0.content.0',
        /not valid base64/,
      ],
      [
        'a data URL that is not an image',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: `data:text/html;base64,${PNG}` } }])] },
        'messages.0.content.0',
        /media type must be image/,
      ],
      [
        'a file: image URL',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }])] },
        'messages.0.content.0.image_url.url',
        /http\(s\)/,
      ],
      [
        'the cloud metadata address',
        {
          model: 'claude',
          messages: [user([{ type: 'image_url', image_url: { url: 'http://169.254.169.254/latest/meta-data/' } }])],
        },
        'messages.0.content.0',
        /private, loopback, link-local or metadata/,
      ],
      [
        'a loopback IP in decimal notation',
        { model: 'both', messages: [user([{ type: 'image_url', image_url: { url: 'http://2130706433/x.png' } }])] },
        'messages.0.content.0',
        /private/,
      ],
      [
        'localhost',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: 'https://LOCALHOST./x.png' } }])] },
        'messages.0.content.0',
        /private/,
      ],
      [
        'a private network address',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: 'http://10.1.2.3/x.png' } }])] },
        'messages.0.content.0',
        /private/,
      ],
      [
        'IPv6 loopback',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: 'http://[::1]:8080/x.png' } }])] },
        'messages.0.content.0',
        /private/,
      ],
      [
        'an IPv4-mapped private address',
        { model: 'claude', messages: [user([{ type: 'image_url', image_url: { url: 'http://[::ffff:192.168.0.1]/x.png' } }])] },
        'messages.0.content.0',
        /private/,
      ],
    ];
    for (const [what, body, param, message] of openaiCases) {
      it(`OpenAI SDK: ${what}`, async () => {
        const before = upstreamCalls();
        const r = await refusal(() => openai.chat.completions.create(body));
        assert.equal(r.status, 400, r.message);
        assert.equal(r.param, param, r.message);
        assert.ok(r.message.startsWith(`${param}: `), r.message);
        assert.match(r.message, message);
        assert.equal(upstreamCalls(), before, 'no upstream attempt');
      });
    }

    const ask: Anthropic.MessageParam = { role: 'user', content: 'x' };
    const aTools: Anthropic.Tool[] = [{ name: 'weather', input_schema: { type: 'object', properties: {} } }];
    const image = (source: unknown): Anthropic.MessageParam => ({
      role: 'user',
      content: [{ type: 'image', source } as Anthropic.ImageBlockParam],
    });
    const anthropicCases: Array<[string, Anthropic.MessageCreateParamsNonStreaming, RegExp]> = [
      [
        'tool_choice naming a missing tool',
        { model: 'gpt', max_tokens: 5, messages: [ask], tools: aTools, tool_choice: { type: 'tool', name: 'nope' } },
        /^invalid_request: tool_choice\.name: names tool "nope"/,
      ],
      [
        'a tool_result with no tool_use',
        {
          model: 'gpt',
          max_tokens: 5,
          messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'r' }] }],
        },
        /^invalid_request: messages\.0\.content\.0\.tool_use_id: answers tool call "toolu_9"/,
      ],
      [
        'invalid base64 image data',
        { model: 'gpt', max_tokens: 5, messages: [image({ type: 'base64', media_type: 'image/png', data: '%%%not-base64' })] },
        /^invalid_request: messages\.0\.content\.0: the image data is not valid base64/,
      ],
      [
        'a file: image URL',
        { model: 'gpt', max_tokens: 5, messages: [image({ type: 'url', url: 'file:///etc/passwd' })] },
        /^invalid_request: messages\.0\.content\.0: the image URL must be http\(s\)/,
      ],
      [
        'a javascript: image URL',
        { model: 'gpt', max_tokens: 5, messages: [image({ type: 'url', url: 'javascript:alert(1)' })] },
        /^invalid_request: messages\.0\.content\.0: the image URL must be http\(s\)/,
      ],
      [
        'the GCP metadata host name',
        {
          model: 'both',
          max_tokens: 5,
          messages: [image({ type: 'url', url: 'http://metadata.google.internal/computeMetadata/v1/' })],
        },
        /^invalid_request: messages\.0\.content\.0: the image URL points at a private/,
      ],
    ];
    for (const [what, body, message] of anthropicCases) {
      it(`Anthropic SDK: ${what}`, async () => {
        const before = upstreamCalls();
        const r = await refusal(() => anthropic.messages.create(body));
        assert.equal(r.status, 400, r.message);
        assert.match(r.message, message);
        assert.equal(upstreamCalls(), before, 'no upstream attempt');
      });
    }

    it('valid tool round trips, base64 images and public image URLs still go through', async () => {
      const before = openaiFake.requests.length;
      await openai.chat.completions.create({
        model: 'gpt',
        tools,
        tool_choice: { type: 'function', function: { name: 'weather' } },
        messages: [
          user([
            { type: 'text', text: 'look' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'image_url', image_url: { url: 'https://images.example.com/cat.png' } },
          ]),
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
      });
      assert.equal(openaiFake.requests.length, before + 1);
    });
  });

  describe("a provider's rejection of the request is the client's 4xx with the provider's message", () => {
    const rejection = (message: string) =>
      JSON.stringify({ error: { message, type: 'invalid_request_error', param: 'messages', code: null } });

    it('OpenAI SDK across APIs: 400 BadRequestError with the message, key removed; no retry, no fallback, the circuit stays closed', async () => {
      anthropicFake.setBehavior({
        kind: 'status',
        status: 400,
        body: JSON.stringify({
          type: 'error',
          error: { type: 'invalid_request_error', message: `messages.0.content: bad for key ${anthropicFake.apiKey}` },
        }),
      });
      try {
        const o = openaiFake.requests.length;
        const a = anthropicFake.requests.length;
        for (let i = 0; i < 3; i++) {
          const err = await openai.chat.completions
            .create({ model: 'both-rev', messages: [{ role: 'user', content: 'x' }] })
            .then(
              () => assert.fail('accepted'),
              (e: unknown) => e,
            );
          assert.ok(err instanceof OpenAI.BadRequestError, String(err));
          assert.equal(err.status, 400);
          assert.equal(err.message, '400 upstream rejected the request (HTTP 400): messages.0.content: bad for key [redacted]');
          assert.ok(!JSON.stringify(err.error).includes(anthropicFake.apiKey));
        }
        assert.equal(anthropicFake.requests.length, a + 3, 'one attempt per request: a rejection is not retried');
        assert.equal(openaiFake.requests.length, o, 'and does not fall over to the next member');
        assert.equal(
          gw.gateway.router.breaker('claude')!.snapshot().state,
          'closed',
          'and does not count against the circuit (threshold 1)',
        );
      } finally {
        anthropicFake.setBehavior({ kind: 'normal' });
      }
      const ok = await openai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] });
      assert.ok(ok.choices[0]);
    });

    it('Anthropic SDK across APIs: a provider 413 is 413 and a 422 is 400, with the message, also through a group', async () => {
      openaiFake.setBehavior({
        kind: 'status',
        status: 413,
        body: JSON.stringify({ error: { type: 'invalid_request_error', message: 'Request exceeds the maximum size' } }),
      });
      try {
        const r = await refusal(() =>
          anthropic.messages.create({ model: 'gpt', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
        );
        assert.equal(r.status, 413);
        assert.equal(r.message, 'payload_too_large: upstream rejected the request (HTTP 413): Request exceeds the maximum size');
      } finally {
        openaiFake.setBehavior({ kind: 'normal' });
      }
      openaiFake.setBehavior({
        kind: 'status',
        status: 422,
        body: JSON.stringify({ detail: 'max_tokens is too large for this model' }),
      });
      try {
        const r = await refusal(() =>
          anthropic.messages.create({ model: 'both', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
        );
        assert.equal(r.status, 400);
        assert.equal(
          r.message,
          'invalid_request: upstream rejected the request (HTTP 422): max_tokens is too large for this model',
        );
      } finally {
        openaiFake.setBehavior({ kind: 'normal' });
      }
      assert.equal(gw.gateway.router.breaker('claude')!.snapshot().state, 'closed');
      assert.equal(gw.gateway.router.breaker('gpt')!.snapshot().state, 'closed');
    });

    it("a provider 401 (the gateway's own key) stays a 502 naming the status only", async () => {
      openaiFake.setBehavior({
        kind: 'status',
        status: 401,
        body: rejection(`Incorrect API key provided: ${openaiFake.apiKey}`),
      });
      try {
        const r = await refusal(() =>
          openai.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'x' }] }),
        );
        assert.equal(r.status, 502);
        assert.equal(r.message, 'upstream rejected the request (HTTP 401)');
      } finally {
        openaiFake.setBehavior({ kind: 'normal' });
      }
    });
  });
});

describe('allow_private_image_urls = true', () => {
  it('forwards image URLs on private addresses (a self-hosted server fetching from the internal network)', async () => {
    const openaiFake = await startFakeOpenAI({ apiKey: 'sk-openai-private-images-secret-3' });
    const anthropicFake = await startFakeAnthropic({ apiKey: 'sk-ant-private-images-secret-4' });
    const gw = await startTestGateway({
      toml: toml(openaiFake, anthropicFake, 'allow_private_image_urls = true'),
      env: { TEST_ADMIN_PASSWORD: ADMIN, T: TOKEN, OPENAI_KEY: openaiFake.apiKey, ANTHROPIC_KEY: anthropicFake.apiKey },
    });
    try {
      const openai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
      await openai.chat.completions.create({
        model: 'gpt',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://10.1.2.3/x.png' } }] }],
      });
      assert.match(JSON.stringify(openaiFake.requests.at(-1)!.body), /10\.1\.2\.3/);
      const r = await refusal(() =>
        openai.chat.completions.create({
          model: 'claude',
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }],
        }),
      );
      assert.equal(r.status, 400, 'non-http schemes stay refused');
    } finally {
      await gw.stop();
      await openaiFake.close();
      await anthropicFake.close();
    }
  });
});
