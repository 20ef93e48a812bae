/**
 * `serve` reads secrets once; a secret that still holds a placeholder copied
 * from .env.example is refused, naming the variable and never the value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
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
        assert.match(message, new RegExp(`^environment variable ${name} \\([^)]+\\) still holds the placeholder value from \\.env\\.example; set a real secret$`));
        assert.ok(!message.includes(placeholder), 'the placeholder value is not echoed');
      }
    });
  }

  it('matches the placeholder however it is spaced or cased, and nothing that merely contains it', () => {
    const config = loadExampleConfig('config/provider-only.toml');
    const names = secretEnvNames(config);
    const name = config.admin_password_env;
    for (const value of ['replace-with-admin-password', ' Replace-With-x ', 'REPLACE-WITH-ANYTHING']) {
      assert.match(refusal(() => readSecrets(config, { ...realValues(names), [name]: value })), new RegExp(`^environment variable ${name} `));
    }
    for (const value of ['do-not-replace-with-this', 'replacewith', 'x-replace-with-y']) {
      assert.doesNotThrow(() => readSecrets(config, { ...realValues(names), [name]: value }));
    }
  });
});
