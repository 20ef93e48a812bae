/**
 * Image URLs on the pass-through path (docs/api.md#pass-through,
 * docs/api.md#client-mistakes-the-gateway-refuses): the body goes to a
 * same-API member as sent even when the gateway's own parse of it fails, so
 * its image URLs are checked on the body as sent — OpenAI `image_url.url`,
 * Responses `input_image.image_url`, Anthropic `source.url` — and a private,
 * loopback, link-local or metadata address is refused (400 naming the field,
 * nothing sent upstream) unless `allow_private_image_urls`; also on
 * `POST /v1/messages/count_tokens`, which forwards the body as sent. Each body below
 * also holds a part the gateway's parse refuses, proven by a translated
 * target refusing it for that part.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startFakeResponsesApi, type FakeResponsesApi } from '../support/fake-openai-responses.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';

const TOKEN = 'tok-passthrough-images-0123456789';

const toml = (o: FakeOpenAI, a: FakeAnthropic, r: FakeResponsesApi, top = '') => `${top}
${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${o.url}"
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-test"
api_key_env = "ANTHROPIC_KEY"
base_url = "${a.url}"
[[targets]]
name = "native"
type = "openai"
api = "responses"
model = "gpt-native"
api_key_env = "RESPONSES_KEY"
base_url = "${r.url}"
`;

/** Bodies whose strict parse fails (a part the gateway does not translate), each with an image URL. */
const chatBody = (model: string, url: string) => ({
  model,
  messages: [
    {
      role: 'user',
      content: [
        { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
        { type: 'image_url', image_url: { url } },
      ],
    },
  ],
});
const messagesBody = (model: string, url: string) => ({
  model,
  max_tokens: 16,
  messages: [
    {
      role: 'user',
      content: [
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } },
        { type: 'image', source: { type: 'url', url } },
      ],
    },
  ],
});
const responsesBody = (model: string, url: string) => ({
  model,
  input: [
    { type: 'item_reference', id: 'msg_earlier' },
    { role: 'user', content: [{ type: 'input_image', image_url: url, detail: 'auto' }] },
  ],
});

async function status400(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (err) {
    if (err instanceof OpenAI.BadRequestError) return String((err.error as any).param);
    if (err instanceof Anthropic.BadRequestError) return String((err.error as any).error.message);
    throw err;
  }
  assert.fail('expected a 400');
}

describe('pass-through: image URLs are checked on the body as sent', () => {
  let o: FakeOpenAI;
  let a: FakeAnthropic;
  let r: FakeResponsesApi;
  let gw: TestGateway;
  let openai: OpenAI;
  let claude: Anthropic;
  const upstreamCalls = () => o.requests.length + a.requests.length + r.requests.length;

  before(async () => {
    [o, a, r] = await Promise.all([
      startFakeOpenAI({ apiKey: 'sk-openai-images-secret-1' }),
      startFakeAnthropic({ apiKey: 'sk-ant-images-secret-2' }),
      startFakeResponsesApi('sk-responses-images-secret-3'),
    ]);
    gw = await startTestGateway({
      toml: toml(o, a, r),
      env: {
        TEST_ADMIN_PASSWORD: 'admin-pw-pt-images',
        T: TOKEN,
        OPENAI_KEY: o.apiKey,
        ANTHROPIC_KEY: a.apiKey,
        RESPONSES_KEY: r.apiKey,
      },
    });
    openai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    claude = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([o?.close(), a?.close(), r?.close()]);
  });

  it('each body fails the strict parse (a translated target refuses it for another part) and passes through with a public URL', async () => {
    const pub = 'https://example.com/cat.png';
    assert.equal(
      await status400(() => openai.chat.completions.create(chatBody('claude', pub) as any)),
      'messages.0.content.0.type',
    );
    await openai.chat.completions.create(chatBody('gpt', pub) as any);
    assert.equal(o.requests.at(-1)!.body.messages[0].content[1].image_url.url, pub);

    assert.match(await status400(() => claude.messages.create(messagesBody('gpt', pub) as any)), /messages\.0\.content\.0/);
    await claude.messages.create(messagesBody('claude', pub) as any);
    assert.equal(a.requests.at(-1)!.body.messages[0].content[1].source.url, pub);

    assert.match(await status400(() => openai.responses.create(responsesBody('gpt', pub) as any)), /^input\.0/);
    await openai.responses.create(responsesBody('native', pub) as any);
    assert.equal(r.requests.at(-1)!.body.input[1].content[0].image_url, pub);
  });

  for (const url of [
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.7/x.png',
    'http://[::1]/x.png',
    'http://metadata/x',
  ]) {
    it(`refuses ${url} on every same-API path, naming the field, nothing sent`, async () => {
      const before = upstreamCalls();
      assert.equal(
        await status400(() => openai.chat.completions.create(chatBody('gpt', url) as any)),
        'messages.0.content.1.image_url.url',
      );
      assert.match(
        await status400(() => claude.messages.create(messagesBody('claude', url) as any)),
        /messages\.0\.content\.1\.source\.url.*private/,
      );
      assert.equal(
        await status400(() => openai.responses.create(responsesBody('native', url) as any)),
        'input.1.content.0.image_url',
      );
      // count_tokens forwards the body as sent to an anthropic target, which may fetch the URL to count it.
      const { max_tokens: _m, ...count } = messagesBody('claude', url);
      assert.match(
        await status400(() => claude.messages.countTokens(count as any)),
        /messages\.0\.content\.1\.source\.url.*private/,
      );
      assert.equal(upstreamCalls(), before);
    });
  }

  it('count_tokens forwards a public image URL as sent', async () => {
    const pub = 'https://example.com/cat.png';
    const { max_tokens: _m, ...count } = messagesBody('claude', pub);
    assert.equal((await claude.messages.countTokens(count as any)).input_tokens, 1001);
    assert.equal(a.requests.at(-1)!.path, '/v1/messages/count_tokens');
    assert.equal(a.requests.at(-1)!.body.messages[0].content[1].source.url, pub);
  });

  it('tool arguments, tool definitions and metadata are data, not fetched content: not refused', async () => {
    const local = 'http://localhost:3000/shot.png';
    await claude.messages.create({
      model: 'claude',
      max_tokens: 16,
      metadata: { image_url: local } as any,
      tools: [
        { name: 'screenshot', input_schema: { type: 'object', properties: { image_url: { type: 'string', default: local } } } },
      ],
      messages: [
        { role: 'user', content: 'shoot' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'screenshot', input: { image_url: local } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'done' }] },
      ],
    } as any);
    assert.equal(a.requests.at(-1)!.body.messages[1].content[0].input.image_url, local);
    // An image in a tool result is content the provider fetches: refused.
    const before = upstreamCalls();
    const msg = await status400(() =>
      claude.messages.create({
        model: 'claude',
        max_tokens: 16,
        messages: [
          { role: 'user', content: 'shoot' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'screenshot', input: {} }] },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'image', source: { type: 'url', url: local } }] },
            ],
          },
        ],
      } as any),
    );
    assert.match(msg, /private/);
    assert.equal(upstreamCalls(), before);
  });

  it('also a document URL (Anthropic) and a file URL (Responses), and non-http schemes', async () => {
    const before = upstreamCalls();
    const doc = messagesBody('claude', 'https://example.com/ok.png');
    (doc.messages[0]!.content[0] as any).source = { type: 'url', url: 'http://192.168.1.1/secret.pdf' };
    assert.match(await status400(() => claude.messages.create(doc as any)), /messages\.0\.content\.0\.source\.url/);
    const file = responsesBody('native', 'https://example.com/ok.png');
    (file.input[1] as any).content.push({ type: 'input_file', file_url: 'http://127.0.0.1:9000/f.pdf' });
    assert.equal(await status400(() => openai.responses.create(file as any)), 'input.1.content.1.file_url');
    assert.equal(
      await status400(() => openai.chat.completions.create(chatBody('gpt', 'file:///etc/passwd') as any)),
      'messages.0.content.1.image_url.url',
    );
    assert.equal(upstreamCalls(), before);
  });
});

describe('pass-through with allow_private_image_urls = true', () => {
  it('forwards private image URLs as sent', async () => {
    const [o, a, r] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeResponsesApi()]);
    const gw = await startTestGateway({
      toml: toml(o, a, r, 'allow_private_image_urls = true'),
      env: {
        TEST_ADMIN_PASSWORD: 'admin-pw-pt-images',
        T: TOKEN,
        OPENAI_KEY: o.apiKey,
        ANTHROPIC_KEY: a.apiKey,
        RESPONSES_KEY: r.apiKey,
      },
    });
    try {
      const openai = new OpenAI({ baseURL: `${gw.publicUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
      await openai.chat.completions.create(chatBody('gpt', 'http://10.0.0.7/x.png') as any);
      assert.equal(o.requests.at(-1)!.body.messages[0].content[1].image_url.url, 'http://10.0.0.7/x.png');
      await openai.responses.create(responsesBody('native', 'http://10.0.0.7/y.png') as any);
      assert.equal(r.requests.at(-1)!.body.input[1].content[0].image_url, 'http://10.0.0.7/y.png');
      const claude = new Anthropic({ baseURL: gw.publicUrl, apiKey: TOKEN, maxRetries: 0 });
      const { max_tokens: _m, ...count } = messagesBody('claude', 'http://10.0.0.7/z.png');
      await claude.messages.countTokens(count as any);
      assert.equal(a.requests.at(-1)!.body.messages[0].content[1].source.url, 'http://10.0.0.7/z.png');
    } finally {
      await gw.stop();
      await Promise.all([o.close(), a.close(), r.close()]);
    }
  });
});
