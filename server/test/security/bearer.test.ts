/**
 * Bearer tokens: exact, case-sensitive matching, through the comparison
 * function and through a real gateway; the compare path hashes both sides and
 * compares every configured token without an early exit.
 */
import assert from 'node:assert/strict';
import { timingSafeEqual } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TokenConfig } from '../../src/config/schema.js';
import { createAuthenticator, matchToken, sha256, type Digest, type DigestEqual } from '../../src/security/bearer.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';

const TOKEN = 'tok-Bearer-Case-0123456789';
const OTHER = 'tok-other-caller-ABCDEFGH';

/** Tokens that must all be refused when TOKEN is configured. */
const NEAR_MISSES: Array<[string, string]> = [
  ['lower-cased', TOKEN.toLowerCase()],
  ['upper-cased', TOKEN.toUpperCase()],
  ['one character changed', `${TOKEN.slice(0, 10)}x${TOKEN.slice(11)}`],
  ['last character changed', `${TOKEN.slice(0, -1)}8`],
  ['a trailing byte added', `${TOKEN}0`],
  ['the last byte missing', TOKEN.slice(0, -1)],
  ['a leading byte added', `x${TOKEN}`],
  ['another token with a byte added', `${OTHER}!`],
];

const tokens: TokenConfig[] = [
  { env: 'A', caller: 'alpha', targets: [] },
  { env: 'B', caller: 'beta', targets: ['chat'] },
];

describe('bearer token matching', () => {
  const auth = createAuthenticator(tokens, [TOKEN, OTHER]);

  it('accepts each configured token exactly, naming its caller', () => {
    assert.equal(auth(`Bearer ${TOKEN}`)?.label, 'alpha');
    assert.equal(auth(`Bearer ${OTHER}`)?.label, 'beta');
    assert.deepEqual([...auth(`Bearer ${OTHER}`)!.allowed!], ['chat']);
  });

  for (const [what, token] of NEAR_MISSES) {
    it(`refuses a token with ${what}`, () => {
      assert.equal(auth(`Bearer ${token}`), null);
    });
  }

  it('refuses missing and malformed headers', () => {
    for (const h of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Basic ${TOKEN}`,
      TOKEN,
      `Bearer ${TOKEN} extra`,
      `Bearer ${'x'.repeat(9000)}`,
    ]) {
      assert.equal(auth(h), null, String(h).slice(0, 40));
    }
  });

  it('hashes the configured tokens once and the presented token on every call', () => {
    const hashed: string[] = [];
    const hash: Digest = (v) => (hashed.push(v), sha256(v));
    const a = createAuthenticator(tokens, [TOKEN, OTHER], hash);
    assert.deepEqual(hashed, [TOKEN, OTHER]);
    a(`Bearer ${TOKEN.toLowerCase()}`);
    a('Bearer short');
    assert.deepEqual(hashed, [TOKEN, OTHER, TOKEN.toLowerCase(), 'short']);
  });

  for (const [what, presented] of [
    ['an equal-length token', `${TOKEN.slice(0, -1)}X`],
    ['a shorter token', 'x'],
    ['a longer token', `${TOKEN}${'y'.repeat(100)}`],
    ['the first configured token (a match)', TOKEN],
  ] as const) {
    it(`compares ${what} as digests with every configured token, without an early exit`, () => {
      const calls: Array<[Buffer, Buffer]> = [];
      const equal: DigestEqual = (a, b) => {
        calls.push([Buffer.from(a as Uint8Array), Buffer.from(b as Uint8Array)]);
        return timingSafeEqual(a, b);
      };
      const entries = [TOKEN, OTHER, 'tok-third-one'].map((t, i) => ({ digest: sha256(t), value: i }));
      const found = matchToken(presented, entries, sha256, equal);
      assert.equal(found, presented === TOKEN ? 0 : null);
      assert.equal(calls.length, entries.length, 'every entry is compared, even after a match');
      for (const [i, [configured, seen]] of calls.entries()) {
        assert.deepEqual(configured, entries[i]!.digest, 'the configured side is its digest');
        assert.deepEqual(seen, sha256(presented), 'the presented side is its digest, never the raw token');
        assert.equal(seen.length, 32);
      }
    });
  }
});

describe('bearer tokens through the gateway', () => {
  let upstream: FakeOpenAI;
  let gw: TestGateway;
  const chat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

  before(async () => {
    upstream = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(upstream.url),
      env: { TEST_ADMIN_PASSWORD: 'admin-pw-bearer-1', T: TOKEN, UPSTREAM_KEY: upstream.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('serves the exact token', async () => {
    const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token: TOKEN });
    assert.equal(r.status, 200, r.text);
  });

  it('refuses every near miss with 401 authentication, never reaching the upstream', async () => {
    const before = upstream.requests.length;
    for (const [what, token] of NEAR_MISSES) {
      const r = await postJson(`${gw.publicUrl}/v1/chat`, chat, { token });
      assert.equal(r.status, 401, what);
      assert.equal(r.body.error.code, 'authentication', what);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer', what);
    }
    assert.equal(upstream.requests.length, before);
  });
});
