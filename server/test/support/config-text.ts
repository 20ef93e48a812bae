/**
 * TOML fixtures and assertions shared by the configuration tests: a minimal
 * valid config (one token, one openai_compatible target) and helpers to vary
 * it and to expect a ConfigError.
 */
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

/** The smallest valid config: `[security]` present but empty, token TOKEN_A, target "p". */
export const MINIMAL_CONFIG = `
admin_password_env = "ADMIN_PW"
[security]
[[tokens]]
env = "TOKEN_A"
caller = "client-a"
[[targets]]
name = "p"
type = "openai_compatible"
model = "m"
base_url = "http://127.0.0.1:9/v1"
token_env = "PROVIDER_TOKEN"
`;

/** Replaces `from` (which must occur) in `base` by `to`. */
export function variantOf(base: string, from: string, to: string): string {
  assert.ok(base.includes(from), `fixture lacks ${from}`);
  return base.replace(from, to);
}

/** Asserts that parsing `toml` fails with a ConfigError whose message matches. */
export function rejectsConfig(toml: string, expected: RegExp): void {
  assert.throws(
    () => parseConfigText(toml),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.match(err.message, expected);
      return true;
    },
  );
}
