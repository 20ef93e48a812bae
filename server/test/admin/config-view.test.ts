/**
 * The configuration view's sanitizer (docs/dashboard.md#sanitized-configuration):
 * one made-up key per kind of secret, nested the ways a config nests values,
 * must lose its value; names of environment variables, URLs without user info
 * and settings that merely mention tokens (a local target's default_max_tokens)
 * must be shown as they are.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, sanitize } from '../../src/admin/config-view.js';
import { parseConfigText } from '../../src/config/load.js';
import { BASE_TOML } from '../support/gateway.js';

/** One key per kind of secret the view recognises, each with a value found nowhere else. */
const SECRET_KEYS = {
  password: 'v-password-1f',
  admin_passwd: 'v-passwd-2e',
  db_pass: 'v-pass-3d',
  passphrase: 'v-passphrase-4c',
  client_secret: 'v-secret-5b',
  token: 'v-token-6a',
  refresh_token: 'v-refresh-token-79',
  accessToken: 'v-access-token-88',
  api_key: 'v-api-key-97',
  apiKey: 'v-apikey-a6',
  key: 'v-key-b5',
  private_key: 'v-private-key-c4',
  credential: 'v-credential-d3',
  credentials: 'v-credentials-e2',
  authorization: 'v-authorization-f1',
  session_cookie: 'v-cookie-00',
} as const;

describe('configuration view sanitizer', () => {
  it('redacts one made-up key of every secret kind, at the top, in tables and in arrays of tables', () => {
    const view = sanitize({ top: { ...SECRET_KEYS }, list: [{ ...SECRET_KEYS }], deep: { a: { b: [{ ...SECRET_KEYS }] } } });
    const text = JSON.stringify(view);
    for (const [key, value] of Object.entries(SECRET_KEYS)) {
      assert.ok(!text.includes(value), `the value of "${key}" is shown`);
    }
    const top = (view as { top: Record<string, unknown> }).top;
    for (const key of Object.keys(SECRET_KEYS)) assert.equal(top[key], REDACTED, `"${key}" is shown as ${REDACTED}`);
  });

  it('shows environment variable names, token counts and non-secret keys as they are', () => {
    const view = sanitize({
      api_key_env: 'OPENAI_API_KEY',
      token_env: 'PROVIDER_TOKEN',
      env: 'SIPP_GATEWAY_TOKEN',
      default_max_tokens: 256,
      max_tokens: 64,
      key_prefix: 'sipp:',
      keep_alive_timeout_seconds: 5,
      tokenizer: 'bpe',
    });
    assert.deepEqual(view, {
      api_key_env: 'OPENAI_API_KEY',
      token_env: 'PROVIDER_TOKEN',
      env: 'SIPP_GATEWAY_TOKEN',
      default_max_tokens: 256,
      max_tokens: 64,
      key_prefix: 'sipp:',
      keep_alive_timeout_seconds: 5,
      tokenizer: 'bpe',
    });
  });

  it('strips user info from every URL, whatever its key', () => {
    const view = sanitize({
      url: 'redis://:hunter2-pw@cache:6379/0',
      base_url: 'https://user:pw-9@api.example.com/v1',
    }) as Record<string, string>;
    assert.equal(view.url, 'redis://cache:6379/0');
    assert.equal(view.base_url, 'https://api.example.com/v1');
  });

  it("shows a parsed config's local target default_max_tokens and tokens as {env, caller, targets}", () => {
    const config = parseConfigText(`${BASE_TOML}
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "l"
type = "local"
model = "models/demo.gguf"
[targets.runtime]
default_max_tokens = 123
`);
    const view = sanitize(config) as { targets: Array<{ runtime: Record<string, unknown> }>; tokens: unknown };
    assert.equal(view.targets[0]!.runtime.default_max_tokens, 123);
    assert.deepEqual(view.tokens, [{ env: 'T', caller: 'c', targets: [] }]);
  });
});
