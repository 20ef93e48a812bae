/**
 * A pass-through body goes to the provider as the client's own bytes with only
 * `model` replaced (docs/api.md#pass-through): key order, whitespace, unicode
 * escapes, unknown fields and a `model` inside a nested object or a string
 * arrive exactly as sent, finite and streamed. When a module changes the body
 * (a budget's default `max_output_tokens` on a Responses body, or any module
 * through `setMember`), the changed body is what arrives; a module that
 * assigns to the body directly fails loudly instead of having its edit lost
 * (docs/architecture.md#editing-a-pass-through-body).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PipelineModule } from '../../src/public/stages.js';
import {
  nativeResponsesTarget,
  startFakeResponsesApi,
  UPSTREAM_MODEL,
  type FakeResponsesApi,
} from '../support/fake-openai-responses.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { tokenGateway } from '../support/token-gateway.js';

const TOKEN = 'tok-passthrough-raw-0123456789';
const BUDGETED = 'tok-passthrough-raw-budget-0123';
const EDITOR = 'tok-passthrough-raw-editor-0123';
const CARELESS = 'tok-passthrough-raw-careless-01';

/** A module that edits the body of its callers' requests: `editor` through setMember, `careless` by assignment. */
const editing: PipelineModule = {
  name: 'test_body_edit',
  beforeRun(rc) {
    const pt = rc.request.passthrough;
    if (!pt) return;
    const input = pt.body.input;
    if (rc.caller?.label === 'editor') {
      pt.setMember('metadata', { edited: 'yes' });
      pt.setMember('input', `${String(input)} (edited)`);
      pt.setMember('a_future_field', undefined);
    }
    if (rc.caller?.label === 'careless') (pt.body as Record<string, unknown>).metadata = { edited: 'lost?' };
  },
};

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
      ...tokenGateway({
        adminPassword: 'admin-pw-passthrough-raw',
        tokens: [
          { env: 'T', value: TOKEN, caller: 'agent' },
          { env: 'T_BUDGET', value: BUDGETED, caller: 'budgeted', toml: 'budget = { tokens = 1000000, period = "day" }' },
          { env: 'T_EDITOR', value: EDITOR, caller: 'editor' },
          { env: 'T_CARELESS', value: CARELESS, caller: 'careless' },
        ],
        targets: nativeResponsesTarget(fake.url),
        env: { UPSTREAM_KEY: fake.apiKey },
      }),
      modules: [editing],
    });
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  const send = async (token: string, body: string, status = 200) => {
    const res = await fetch(`${gw.publicUrl}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    const text = await res.text();
    assert.equal(res.status, status, text);
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

  it("a module's edits through setMember are what the upstream receives (set, changed, removed members)", async () => {
    const body = RAW.replace('MODEL', '"native"');
    await send(EDITOR, body);
    const got = fake.requests.at(-1)!;
    const sent = JSON.parse(body);
    delete sent.a_future_field;
    assert.deepEqual(got.body, { ...sent, model: UPSTREAM_MODEL, metadata: { edited: 'yes' }, input: `${sent.input} (edited)` });
  });

  it('a module that assigns to the body directly fails the request (500) instead of losing its edit', async () => {
    const before = fake.requests.length;
    await send(CARELESS, RAW.replace('MODEL', '"native"'), 500);
    assert.equal(fake.requests.length, before, 'nothing was sent');
    assert.ok(gw.logs.some((l) => l.includes('Cannot add property metadata, object is not extensible')));
  });
});
