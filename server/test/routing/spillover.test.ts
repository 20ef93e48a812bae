/**
 * Local-first spillover on the generated demo model: a fallback group with the
 * local target first and a provider second, under twice as many concurrent
 * streams as the local target has sequences. The local target serves while it
 * has free sequences; the rest go to the provider at once (`busy`), none
 * waits in the local queue and none fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { demoTargetToml } from '../local/models.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { parseSse, postJson } from '../support/http.js';
import { tokenGateway } from '../support/token-gateway.js';

const TOKEN = 'tok-spillover-0123456789';
const PARALLEL = 2;

describe('local-first spillover (generated demo model)', () => {
  let cloud: FakeOpenAI;
  let gw: TestGateway;

  before(async () => {
    cloud = await startFakeOpenAI();
    gw = await startTestGateway(
      tokenGateway({
        adminPassword: 'admin-pw-spill-0123456789',
        tokens: [{ env: 'T', value: TOKEN, caller: 'tests' }],
        targets: `${demoTargetToml({ context_size: 1024, parallel: PARALLEL, queue_size: 16 }, { name: 'local' })}[[targets]]
name = "cloud"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${cloud.url}"
[[groups]]
name = "chat"
strategy = "fallback"
targets = ["local", "cloud"]
[groups.retry]
on = ["connect", "timeout", "429", "5xx", "busy"]
`,
        env: { OPENAI_KEY: cloud.apiKey },
      }),
    );
  });
  after(async () => {
    await gw?.stop();
    await cloud?.close();
  });

  it(`serves ${PARALLEL} of ${2 * PARALLEL} concurrent streams locally and spills the rest to the provider without queueing`, async () => {
    const local = gw.gateway.targets.get('local')!;
    let maxQueued = 0;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, Number(local.describe().runtime?.queueDepth ?? 0));
    }, 1);
    try {
      // Long local generations (temperature 0, 400 tokens) hold both sequences
      // while every request arrives.
      const responses = await Promise.all(
        Array.from({ length: 2 * PARALLEL }, (_, i) =>
          postJson(
            `${gw.publicUrl}/v1/query`,
            { model: 'chat', prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true },
            { token: TOKEN, headers: { 'x-request-id': `spill-${i}` } },
          ),
        ),
      );
      const servedBy: Record<string, number> = { local: 0, cloud: 0 };
      for (const r of responses) {
        assert.equal(r.status, 200);
        const events = parseSse(r.text);
        assert.equal(events.at(-1)!.event, 'done', 'no stream failed');
        servedBy[r.headers.get('x-sipp-target')!]! += 1;
      }
      assert.deepEqual(servedBy, { local: PARALLEL, cloud: PARALLEL });
      assert.equal(cloud.requests.length, PARALLEL);
      assert.equal(maxQueued, 0, 'nothing waited in the local queue');
      const lines = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && String(l.reqId).startsWith('spill-'));
      assert.equal(lines.length, 2 * PARALLEL);
      for (const l of lines) {
        assert.equal(l.group, 'chat');
        assert.equal(l.attempts.length, l.target === 'local' ? 1 : 2);
      }
      const fallbacks = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'fallback');
      assert.equal(fallbacks.length, PARALLEL);
      assert.ok(fallbacks.every((f) => f.from === 'local' && f.to === 'cloud' && f.reason === 'busy'));
    } finally {
      clearInterval(sampler);
    }
    assert.equal(local.describe().runtime?.busySequences, 0, 'every sequence came back');
  });
});
