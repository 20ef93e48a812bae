/**
 * Real small models from ../shared/models/ when present (skipped with a
 * message otherwise): stories260K writes readable English; the 32k-token
 * Llama-2 tokenizer's non-ASCII output stays valid UTF-8 across SSE frames,
 * and a forced tool call through its fallback chat wrapper parses.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NODE_ARGS } from '../support/paths.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';
import { SHARED_MODELS_ENV, sharedModel, tomlString } from './models.js';

const TOKEN = 'tok-shared-models-24681357';
const stories = sharedModel('stories260K.gguf');
const tinyRandom = sharedModel('llama-2-tiny-random.gguf');

function gatewayFor(model: string): Promise<TestGateway> {
  return startTestGateway({
    toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tests"
[[targets]]
name = "m"
type = "local"
model = ${tomlString(model)}
[targets.runtime]
context_size = 512
parallel = 2
`,
    env: { TEST_ADMIN_PASSWORD: 'admin-pw-shared-0123456789', T: TOKEN },
  });
}

// The skip goes on each test, not on the describe: node:test counts skipped
// tests in its summary ("# skipped N"), but not a skipped suite.
describe('stories260K.gguf', () => {
  let gw: TestGateway;
  before(async () => {
    if (stories.path) gw = await gatewayFor(stories.path);
  });
  after(async () => {
    await gw?.stop();
  });

  it('completes "Once upon a time" with readable English', { skip: stories.skip }, async () => {
    const r = await postJson(
      `${gw.publicUrl}/v1/query`,
      { model: 'm', prompt: 'Once upon a time', max_tokens: 48, temperature: 0 },
      { token: TOKEN },
    );
    assert.equal(r.status, 200, r.text);
    const text: string = r.body.text;
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    assert.ok(words.length >= 20, text);
    const common = new Set(['there', 'was', 'a', 'the', 'little', 'she', 'he', 'to', 'and', 'play', 'day', 'one', 'her', 'his']);
    const hits = words.filter((w) => common.has(w)).length;
    assert.ok(hits >= 6, `expected common English words in: ${text}`);
    assert.match(text, /^[\x20-\x7e\n]+$/, 'plain ASCII story text');
  });

  it('chat uses the documented fallback template (the GGUF has none)', { skip: stories.skip }, async () => {
    assert.equal(gw.gateway.targets.get('m')!.describe().runtime?.chatTemplate, 'fallback:General');
    const r = await postJson(
      `${gw.publicUrl}/v1/chat`,
      { model: 'm', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 16, temperature: 0 },
      { token: TOKEN },
    );
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.usage.output_tokens > 0);
  });
});

describe('llama-2-tiny-random.gguf', () => {
  let gw: TestGateway;
  before(async () => {
    if (tinyRandom.path) gw = await gatewayFor(tinyRandom.path);
  });
  after(async () => {
    await gw?.stop();
  });

  it(
    'streams non-ASCII text as valid UTF-8 in every SSE frame, equal to the finite answer',
    { skip: tinyRandom.skip },
    async () => {
      let sawNonAscii = false;
      for (const prompt of ['日本語のテキスト', 'Привет, как дела?', 'Grüße aus Köln €']) {
        const body = { model: 'm', prompt, max_tokens: 120, temperature: 0 };
        const finite = await postJson(`${gw.publicUrl}/v1/query`, body, { token: TOKEN });
        const res = await fetch(`${gw.publicUrl}/v1/query`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...body, stream: true }),
        });
        const raw = Buffer.from(await res.arrayBuffer());
        // The wire bytes decode strictly as UTF-8.
        const text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
        const frames = parseSse(text).filter((e) => e.event === 'token');
        for (const f of frames) {
          assert.ok(
            !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(f.data.text),
            'no lone surrogate',
          );
          if (/[^\x00-\x7f]/.test(f.data.text)) sawNonAscii = true;
        }
        const streamed = frames.map((f) => f.data.text).join('');
        assert.equal(streamed, finite.body.text);
        const replacements = (s: string) => (s.match(/\uFFFD/g) ?? []).length;
        assert.equal(replacements(streamed), replacements(finite.body.text), 'frame splits add no replacement characters');
      }
      assert.ok(sawNonAscii, 'the large tokenizer produced non-ASCII text');
    },
  );

  it(
    'makes a forced tool call whose arguments parse, with the fallback chat wrapper and a 32k vocabulary',
    { skip: tinyRandom.skip },
    async () => {
      const parameters = {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' }, unit: { type: 'string', enum: ['c', 'f'] } },
        required: ['city', 'days', 'unit'],
      };
      const r = await postJson(
        `${gw.publicUrl}/v1/chat/completions`,
        {
          model: 'm',
          messages: [{ role: 'user', content: 'Weather in Paris?' }],
          tools: [{ type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters } }],
          tool_choice: { type: 'function', function: { name: 'get_weather' } },
          max_tokens: 200,
          temperature: 0,
        },
        { token: TOKEN },
      );
      assert.equal(r.status, 200, r.text);
      assert.equal(gw.gateway.targets.get('m')!.describe().runtime?.chatTemplate, 'fallback:General');
      const call = r.body.choices[0].message.tool_calls[0];
      assert.equal(call.function.name, 'get_weather');
      const args = JSON.parse(call.function.arguments);
      assert.equal(typeof args.city, 'string');
      assert.ok(Number.isInteger(args.days) && ['c', 'f'].includes(args.unit), call.function.arguments);
    },
  );
});

describe('without ../shared/models', () => {
  it(
    'reports every real-model test as skipped, with the reason',
    { skip: process.env[SHARED_MODELS_ENV] ? 'this is the inner run' : false },
    () => {
      const self = fileURLToPath(import.meta.url);
      const env: NodeJS.ProcessEnv = { ...process.env, [SHARED_MODELS_ENV]: '/nonexistent/sipp-shared-models' };
      delete env.NODE_TEST_CONTEXT; // a plain `node --test` run, not a child of this runner
      const r = spawnSync(process.execPath, [...NODE_ARGS, '--test', '--test-reporter=tap', self], {
        env,
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      // 4 real-model tests + this test itself, skipped in the inner run
      assert.match(r.stdout, /^# skipped 5$/m);
      assert.match(r.stdout, /^# pass 0$/m);
      assert.match(
        r.stdout,
        /# SKIP stories260K\.gguf not found in \/nonexistent\/sipp-shared-models \(optional real-model tests\)/,
      );
      assert.match(r.stdout, /# SKIP llama-2-tiny-random\.gguf not found in /);
    },
  );
});
