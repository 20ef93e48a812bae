/**
 * A pass-through body goes to the provider as the client's own bytes with only
 * `model` replaced (docs/api.md#pass-through): key order, whitespace, unicode
 * escapes, unknown fields and a `model` inside a nested object or a string
 * arrive exactly as sent, finite and streamed. When a policy changes the body
 * (a budget's default `max_output_tokens` on a Responses body), the changed
 * body is what arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeResponsesApi, UPSTREAM_MODEL, type FakeResponsesApi } from '../support/fake-openai-responses.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';

const TOKEN = 'tok-passthrough-raw-0123456789';
const BUDGETED = 'tok-passthrough-raw-budget-0123';

/** What the client sends, byte for byte; `MODEL` stands for the model member's value. */
const RAW = `{
  "z_first": {"model": "nested-not-renamed", "k": [1.0, 1e2, true, null]},
  "input": "Quote: \\"model\\": \\"native\\" and caf\\u00e9 \\ud83d\\ude00 é ✓",
  "model" :  MODEL,
  "a_future_field": {"b": 2, "a": 1},
  "store": false,
  "instructions": "tab\\there"
}`;

describe('pass-through: the client bytes as sent, only model replaced', () => {
  let fake: FakeResponsesApi;
  let gw: TestGateway;

  before(async () => {
    fake = await startFakeResponsesApi();
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "agent"
[[tokens]]
env = "T_BUDGET"
caller = "budgeted"
budget = { tokens = 1000000, period = "day" }
[[targets]]
name = "native"
type = "openai"
api = "responses"
model = "${UPSTREAM_MODEL}"
api_key_env = "UPSTREAM_KEY"
base_url = "${fake.url}"
timeout_seconds = 10
`,
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-passthrough-raw', T: TOKEN, T_BUDGET: BUDGETED, UPSTREAM_KEY: fake.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  const send = async (token: string, body: string) => {
    const res = await fetch(`${gw.publicUrl}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return text;
  };

  for (const stream of [false, true]) {
    it(`${stream ? 'streamed' : 'finite'}: the upstream receives the client's bytes with only model replaced`, async () => {
      const body = RAW.replace('MODEL', '"native"').replace('"store": false', `"store": false, "stream": ${stream}`);
      const text = await send(TOKEN, body);
      assert.equal(fake.requests.at(-1)!.raw, body.replace('"model" :  "native"', `"model" :  "${UPSTREAM_MODEL}"`));
      // The answer names the model the client asked for.
      assert.match(text, /"model":"native"/);
      assert.doesNotMatch(text, new RegExp(UPSTREAM_MODEL));
    });
  }

  it('a body a policy changed goes as changed: a budget sets max_output_tokens, the rest as sent', async () => {
    const body = RAW.replace('MODEL', '"native"');
    await send(BUDGETED, body);
    const got = fake.requests.at(-1)!;
    assert.equal(got.body.max_output_tokens, 4096);
    assert.deepEqual(got.body, { ...JSON.parse(body), model: UPSTREAM_MODEL, max_output_tokens: 4096 });
  });
});
