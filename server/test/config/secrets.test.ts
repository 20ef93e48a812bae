/**
 * `serve` reads secrets once; a secret that still holds a placeholder copied
 * from .env.example is refused, naming the variable and never the value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { parseConfigText } from '../../src/config/load.js';
import { readSecrets } from '../../src/config/secrets.js';
import { exampleConfigs, loadExampleConfig, parseDotenv, readRepoFile, secretEnvNames } from '../deployment/files.js';

const EXAMPLE = parseDotenv(readRepoFile('.env.example')).vars;

function realValues(names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n, i) => [n, `real-secret-${i}-${n.toLowerCase()}`]));
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the secrets were accepted');
}

describe('placeholder secrets', () => {
  for (const file of exampleConfigs()) {
    it(`${file}: every secret left at its .env.example value is refused by name`, () => {
      const config = loadExampleConfig(file);
      const names = secretEnvNames(config);
      assert.doesNotThrow(() => readSecrets(config, realValues(names)), 'real values are accepted');
      for (const name of names) {
        const placeholder = EXAMPLE.get(name);
        assert.ok(placeholder, `.env.example lists ${name}`);
        const message = refusal(() => readSecrets(config, { ...realValues(names), [name]: placeholder }));
        assert.match(
          message,
          new RegExp(
            `^environment variable ${name} \\([^)]+\\) still holds the placeholder value from \\.env\\.example; set a real secret$`,
          ),
        );
        assert.ok(!message.includes(placeholder), 'the placeholder value is not echoed');
      }
    });
  }

  it('matches the placeholder however it is spaced or cased, and nothing that merely contains it', () => {
    const config = loadExampleConfig('config/provider-only.toml');
    const names = secretEnvNames(config);
    const name = config.admin_password_env;
    for (const value of ['replace-with-admin-password', ' Replace-With-x ', 'REPLACE-WITH-ANYTHING']) {
      assert.match(
        refusal(() => readSecrets(config, { ...realValues(names), [name]: value })),
        new RegExp(`^environment variable ${name} `),
      );
    }
    for (const value of ['do-not-replace-with-this', 'replacewith-0123456789', 'x-replace-with-y-0123456789']) {
      assert.doesNotThrow(() => readSecrets(config, { ...realValues(names), [name]: value }));
    }
  });
});

describe('secret strength and reporting (docs/configuration.md#secrets)', () => {
  const config = loadExampleConfig('config/provider-only.toml');
  const names = secretEnvNames(config);

  it('refuses a token, admin password or provider credential shorter than 16 characters, naming it and not its value', () => {
    for (const name of names) {
      for (const value of ['Qz', 'Qz9xShortVv1', 'fifteen-chars-x']) {
        const message = refusal(() => readSecrets(config, { ...realValues(names), [name]: value }));
        assert.match(message, new RegExp(`^environment variable ${name} \\([^)]+\\) is shorter than 16 characters`));
        assert.ok(!message.includes(value), 'the value is not echoed');
      }
      assert.doesNotThrow(
        () => readSecrets(config, { ...realValues(names), [name]: 'sixteen-chars-xy' }),
        'exactly 16 characters is enough',
      );
    }
  });

  it('reports every missing, blank, placeholder and short secret in one message', () => {
    assert.ok(names.length >= 4, 'the example names enough secrets');
    const [missing, blank, placeholder, short] = names as [string, string, string, string];
    const env = { ...realValues(names), [blank]: '  ', [placeholder]: 'replace-with-something', [short]: 'pw' };
    delete env[missing];
    const message = refusal(() => readSecrets(config, env));
    assert.match(message, /^4 secrets cannot be used:\n( {2}- environment variable [^\n]+(\n|$)){4}$/);
    assert.match(message, new RegExp(`environment variable ${missing} \\([^)]+\\) is not set`));
    assert.match(message, new RegExp(`environment variable ${blank} \\([^)]+\\) is blank`));
    assert.match(message, new RegExp(`environment variable ${placeholder} \\([^)]+\\) still holds the placeholder value`));
    assert.match(message, new RegExp(`environment variable ${short} \\([^)]+\\) is shorter than 16 characters`));
    assert.ok(!message.includes('replace-with-something') && !message.includes(': pw'), 'no value is echoed');
  });

  it('reports a variable named by several fields once', () => {
    const shared = parseConfigText(`admin_password_env = "A"
[security]
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "x"
type = "openai"
model = "m"
api_key_env = "K"
[[targets]]
name = "y"
type = "openai"
model = "m"
api_key_env = "K"
`);
    const message = refusal(() => readSecrets(shared, { A: 'admin-password-0123456789', T: 'token-value-0123456789' }));
    assert.equal(message, 'environment variable K (targets[0].api_key_env) is not set');
  });
});

describe('Redis password strength', () => {
  const config = parseConfigText(`admin_password_env = "A"
[security]
[state]
backend = "redis"
url_env = "R"
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "x"
type = "openai"
model = "m"
api_key_env = "K"
`);
  const env = { A: 'admin-password-0123456789', T: 'token-value-0123456789', K: 'provider-key-0123456789' };

  it('refuses a redis:// URL whose password is shorter than 16 characters, without echoing it', () => {
    const message = refusal(() => readSecrets(config, { ...env, R: 'redis://:Qz9pw@127.0.0.1:6379/0' }));
    assert.match(message, /^environment variable R \(state\.url_env\) holds a Redis password shorter than 16 characters/);
    assert.ok(!message.includes('Qz9pw'));
    assert.doesNotThrow(() => readSecrets(config, { ...env, R: 'redis://:sixteen-chars-xy@127.0.0.1:6379/0' }));
    assert.doesNotThrow(() => readSecrets(config, { ...env, R: 'redis://127.0.0.1:6379/0' }), 'no password: nothing to redact');
  });
});

describe('PostgreSQL password strength', () => {
  const config = parseConfigText(`admin_password_env = "A"
[security]
[database]
backend = "postgres"
url_env = "P"
[[tokens]]
env = "T"
caller = "c"
[[targets]]
name = "x"
type = "openai"
model = "m"
api_key_env = "K"
`);
  const env = { A: 'admin-password-0123456789', T: 'token-value-0123456789', K: 'provider-key-0123456789' };

  it('refuses a postgres:// URL whose password is shorter than 16 characters, and a missing one, without echoing it', () => {
    const message = refusal(() => readSecrets(config, { ...env, P: 'postgres://sipp:Qz9pw@127.0.0.1:5432/sipp' }));
    assert.match(message, /^environment variable P \(database\.url_env\) holds a PostgreSQL password shorter than 16 characters/);
    assert.ok(!message.includes('Qz9pw'));
    assert.match(
      refusal(() => readSecrets(config, env)),
      /^environment variable P \(database\.url_env\) is not set$/,
    );
    assert.doesNotThrow(() => readSecrets(config, { ...env, P: 'postgres://sipp:sixteen-chars-xy@127.0.0.1:5432/sipp' }));
  });
});
