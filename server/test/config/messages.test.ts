/**
 * Every configuration error a user can see is one sentence about their file,
 * naming the key, never zod's wording ("Invalid input: expected object,
 * received undefined") and never a value from the file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { variantOf } from '../support/config-text.js';

const VALID = `
admin_password_env = "ADMIN_PW"
[security]
[[tokens]]
env = "TOKEN_A"
caller = "client-a"
[[targets]]
name = "p"
type = "openai"
model = "m"
api_key_env = "OPENAI_KEY"
`;

const variant = (from: string, to: string): string => variantOf(VALID, from, to);

function messageFor(toml: string, overrides = {}): string {
  try {
    parseConfigText(toml, overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

const cases: Array<[string, string, string]> = [
  // missing keys and tables (invalid_type with nothing there)
  ['a missing table that may be empty', variant('[security]\n', ''), 'missing required table [security] (it may be empty)'],
  [
    'a missing top-level key',
    variant('admin_password_env = "ADMIN_PW"\n', ''),
    'missing required key "admin_password_env" (a string)',
  ],
  ['a missing key in an array entry', variant('model = "m"\n', ''), 'missing required key "model" in targets[0] (a string)'],
  [
    'missing array-of-tables entries',
    variant('[[tokens]]\nenv = "TOKEN_A"\ncaller = "client-a"\n', ''),
    'missing required [[tokens]] entries (at least one is needed)',
  ],
  // wrong types (invalid_type with a value)
  [
    'a quoted number',
    variant('api_key_env = "OPENAI_KEY"', 'api_key_env = "OPENAI_KEY"\ntimeout_seconds = "30"'),
    'targets[0].timeout_seconds: expected a number, got a string (remove the quotes)',
  ],
  [
    'a quoted boolean',
    variant('[security]', '[security.rate_limit]\nenabled = "yes"'),
    'security.rate_limit.enabled: expected a boolean (true or false), got a string (write true or false without quotes)',
  ],
  [
    'a fraction where a whole number goes',
    `max_request_bytes = 1.5\n${VALID}`,
    'max_request_bytes: expected a whole number, got a fractional number',
  ],
  [
    'a scalar where a table goes',
    variant('[security]\n', '').replace('admin_password_env = "ADMIN_PW"', 'admin_password_env = "ADMIN_PW"\nsecurity = 5'),
    'security: expected a table, got an integer',
  ],
  ['an array where a string goes', variant('model = "m"', 'model = ["m"]'), 'targets[0].model: expected a string, got an array'],
  ['a date where a number goes', `max_request_bytes = 1979-05-27\n${VALID}`, 'max_request_bytes: expected a number, got a date'],
  [
    'a string where an array goes',
    variant('caller = "client-a"', 'caller = "client-a"\ntargets = "p"'),
    'tokens[0].targets: expected an array, got a string',
  ],
  // ranges (too_small / too_big), with and without a message in the schema
  [
    'a number at or below its minimum',
    variant('[security]', '[security.rate_limit]\nburst = 0'),
    'security.rate_limit.burst: must be > 0',
  ],
  [
    'a number above its maximum',
    variant('[security]', '[security.rate_limit]\nburst = 2000000'),
    'security.rate_limit.burst: must be <= 1000000',
  ],
  // [[tokens]] rpm/tpm: the managed keys' bounds (shared/src/budgets.ts), both ends
  ['an rpm of 0', variant('caller = "client-a"', 'caller = "client-a"\nrpm = 0'), 'tokens[0].rpm: must be > 0'],
  [
    'an rpm above 10^8',
    variant('caller = "client-a"', 'caller = "client-a"\nrpm = 100000001'),
    'tokens[0].rpm: must be <= 100000000',
  ],
  ['a tpm of 0', variant('caller = "client-a"', 'caller = "client-a"\ntpm = 0'), 'tokens[0].tpm: must be > 0'],
  [
    'a tpm above 10^12',
    variant('caller = "client-a"', 'caller = "client-a"\ntpm = 1000000000001'),
    'tokens[0].tpm: must be <= 1000000000000',
  ],
  ['an empty label', variant('caller = "client-a"', 'caller = ""'), 'tokens[0].caller: must not be empty'],
  [
    'an empty version string',
    variant('type = "openai"', 'type = "anthropic"').replace(
      'api_key_env = "OPENAI_KEY"',
      'api_key_env = "OPENAI_KEY"\nversion = ""',
    ),
    'targets[0].version: must not be empty',
  ],
  // choices (invalid_value / discriminated union)
  [
    'an unknown enum value',
    variant('[security]', '[security.client_ip]\nsource = "proxy"'),
    'security.client_ip.source: must be one of "peer", "x_forwarded_for", "x_real_ip"',
  ],
  [
    'an unknown target type',
    variant('type = "openai"', 'type = "ollama"'),
    'targets[0].type: must be one of "local", "openai", "openai_compatible", "anthropic"',
  ],
  [
    'a missing target type',
    variant('type = "openai"\n', ''),
    'targets[0].type: must be one of "local", "openai", "openai_compatible", "anthropic"',
  ],
  // unknown keys (unrecognized_keys)
  ['an unknown top-level key', `colour = "red"\n${VALID}`, 'unknown key "colour" at the top level'],
  [
    'two unknown keys in a table',
    variant('[security]', '[security.rate_limit]\nburts = 5\nrate = 1'),
    'unknown keys "burts", "rate" in security.rate_limit',
  ],
  [
    'a top-level key written under a table header',
    variant('[security]', '[security]\nmax_request_bytes = 10'),
    'unknown key "max_request_bytes" in security ("max_request_bytes" is a top-level key: in TOML every key after a [table] header belongs to that table, so write it above the first header)',
  ],
  // refinements keep the schema's own sentence (custom)
  [
    'a bad bind address',
    `public_bind = "localhost"\n${VALID}`,
    'public_bind: must be "host:port" (IPv6 as "[::1]:port", port 0-65535)',
  ],
  [
    'a bad environment variable name',
    variant('env = "TOKEN_A"', 'env = "TOKEN-A"'),
    'tokens[0].env: must be an environment variable name (a letter or _, then letters, digits or _)',
  ],
];

describe('configuration error messages', () => {
  for (const [what, toml, expected] of cases) {
    it(`explains ${what}`, () => assert.equal(messageFor(toml), expected));
  }

  it('never uses zod wording in any of them', () => {
    for (const [, toml] of cases)
      assert.doesNotMatch(messageFor(toml), /Invalid input|received|Too (small|big)|Invalid option|Unrecognized/);
  });

  it('never echoes a value from the file', () => {
    const secretish = 'sk-live-PASTEDSECRET';
    for (const toml of [
      variant('model = "m"', `model = ["${secretish}"]`),
      variant('[security]', `[security]\nkey = "${secretish}"`),
      variant('api_key_env = "OPENAI_KEY"', `api_key_env = "${secretish}"`),
      variant('[security]', `[security.rate_limit]\nenabled = "${secretish}"`),
    ]) {
      assert.doesNotMatch(messageFor(toml), /PASTEDSECRET/);
    }
  });

  it('refuses a secret pasted where an environment variable name belongs, in every *_env field, without echoing it', () => {
    const pasted = [
      '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', // sha256 hex: starts with a digit
      'a9f86d081884c7d659a2feaa0c55ad015a3bf4f1', // hex that starts with a letter
      'Zk3TqR8vLx2mWn5pYb7cHd9eJf', // base64-like random letters and digits
    ];
    const fields: Array<[string, string, string]> = [
      ['env = "TOKEN_A"', 'env = "%"', 'tokens[0].env'],
      ['admin_password_env = "ADMIN_PW"', 'admin_password_env = "%"', 'admin_password_env'],
      ['api_key_env = "OPENAI_KEY"', 'api_key_env = "%"', 'targets[0].api_key_env'],
      ['[security]', '[security]\n[state]\nbackend = "redis"\nurl_env = "%"', 'state.url_env'],
      ['[security]', '[security]\n[database]\nbackend = "postgres"\nurl_env = "%"', 'database.url_env'],
      ['[security]', '[security]\n[telemetry.traces]\nheaders_env = "%"', 'telemetry.traces.headers_env'],
    ];
    for (const value of pasted) {
      for (const [from, to, field] of fields) {
        const message = messageFor(variant(from, to.replace('%', value)));
        assert.ok(message.startsWith(`${field}: `), `${field} is named: ${message}`);
        assert.ok(!message.includes(value) && !message.includes(value.slice(0, 8)), `the value is not echoed: ${message}`);
      }
    }
  });

  it("accepts [[tokens]] rpm and tpm at their largest (the managed keys' bounds)", () => {
    const config = parseConfigText(variant('caller = "client-a"', 'caller = "client-a"\nrpm = 100000000\ntpm = 1000000000000'));
    assert.deepEqual([config.tokens[0]!.rpm, config.tokens[0]!.tpm], [1e8, 1e12]);
  });

  it('still accepts ordinary environment variable names', () => {
    for (const name of ['OPENAI_API_KEY', '_PRIVATE', 'lower_case_ok', 'KEY2', 'A', 'SIPP_GATEWAY_TOKEN_0123456789ABCDEF']) {
      assert.doesNotThrow(() => parseConfigText(variant('env = "TOKEN_A"', `env = "${name}"`)), name);
    }
  });

  it('names the environment variable when a bind override is invalid', () => {
    assert.equal(
      messageFor(VALID, { public_bind: 'localhost' }),
      'public_bind: must be "host:port" (IPv6 as "[::1]:port", port 0-65535) (the value comes from the environment variable SIPP_GATEWAY_PUBLIC_BIND)',
    );
    assert.match(
      messageFor(VALID, { management_bind: '127.0.0.1:8080' }),
      /^management_bind: must differ from public_bind \(the value comes from the environment variable SIPP_GATEWAY_MANAGEMENT_BIND\)$/,
    );
  });

  it('applies bind overrides over the file', () => {
    const c = parseConfigText(`public_bind = "127.0.0.1:1"\n${VALID}`, {
      public_bind: '127.0.0.1:8181',
      management_bind: '[::1]:9191',
    });
    assert.equal(c.public_bind, '127.0.0.1:8181');
    assert.equal(c.management_bind, '[::1]:9191');
  });
});
