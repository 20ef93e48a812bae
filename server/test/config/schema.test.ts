import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText, ConfigError } from '../../src/config/load.js';
import { rejectsConfig, variantOf } from '../support/config-text.js';

const VALID = `
admin_password_env = "ADMIN_PW"
[security]
[[tokens]]
env = "TOKEN_A"
caller = "client-a"
targets = ["p"]
[[targets]]
name = "p"
type = "openai_compatible"
model = "m"
base_url = "http://127.0.0.1:9/v1"
token_env = "PROVIDER_TOKEN"
`;

const variant = (from: string, to: string): string => variantOf(VALID, from, to);

const rejects = rejectsConfig;

describe('config schema', () => {
  it('accepts a minimal config and fills the documented defaults', () => {
    const c = parseConfigText(VALID);
    assert.equal(c.public_bind, '127.0.0.1:8080');
    assert.equal(c.management_bind, '127.0.0.1:9090');
    assert.equal(c.max_request_bytes, 1_048_576);
    assert.equal(c.max_concurrent_requests, undefined);
    assert.deepEqual(c.allowed_origins, []);
    assert.deepEqual(c.routes, {
      query: '/v1/query',
      chat: '/v1/chat',
      embed: '/v1/embed',
      index: '/',
      health: '/healthz',
      readiness: '/readyz',
      metrics: '/metrics',
      admin: '/admin',
      openai_chat: '/v1/chat/completions',
      openai_completions: '/v1/completions',
      openai_embeddings: '/v1/embeddings',
      openai_models: '/v1/models',
      anthropic_messages: '/v1/messages',
      openai_model: '/v1/models/:id',
      anthropic_count_tokens: '/v1/messages/count_tokens',
      openai_responses: '/v1/responses',
    });
    assert.deepEqual(c.responses, { store_ttl_seconds: 3600, max_stored: 10_000, max_stored_mb: 256 });
    assert.equal(c.security.client_ip.source, 'peer');
    assert.equal(c.security.rate_limit.enabled, false);
    assert.equal(c.security.rate_limit.requests_per_minute, 60);
    assert.equal(c.security.rate_limit.burst, 60);
    const t = c.targets[0]!;
    assert.equal(t.type, 'openai_compatible');
    if (t.type === 'openai_compatible') assert.equal(t.timeout_seconds, 60);
  });

  it('accepts every field of the documented example (docs/configuration.md#examples)', () => {
    const c = parseConfigText(`
public_bind = "0.0.0.0:8080"
management_bind = "127.0.0.1:9090"
max_request_bytes = 2048
max_concurrent_requests = 4
allowed_origins = ["https://app.example.com"]
admin_password_env = "SIPP_GATEWAY_ADMIN_PASSWORD"
[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["10.0.0.0/8", "::1/128", "192.168.1.7"]
[security.rate_limit]
enabled = true
requests_per_minute = 120
burst = 10
[routes]
query = "/q"
chat = "/c"
embed = "/e"
index = "/"
health = "/h"
readiness = "/r"
metrics = "/m"
admin = "/dash"
[[tokens]]
env = "SIPP_GATEWAY_TOKEN"
caller = "production-client"
targets = []
[[targets]]
name = "local"
type = "local"
model = "models/model.gguf"
backend = "cpu"
stats = "profile"
[targets.runtime]
threads = 1
[[targets]]
name = "openai-chat"
type = "openai"
model = "gpt-5-mini"
api_key_env = "OPENAI_API_KEY"
base_url = "https://api.openai.com/v1"
timeout_seconds = 60
[[targets]]
name = "compatible-chat"
type = "openai_compatible"
model = "served-model"
base_url = "https://provider.example/v1"
token_env = "PROVIDER_TOKEN"
correlation_header = "x-request-id"
timeout_seconds = 60
[[targets]]
name = "anthropic-chat"
type = "anthropic"
model = "provider-model"
api_key_env = "ANTHROPIC_API_KEY"
base_url = "https://api.anthropic.com"
version = "2023-06-01"
timeout_seconds = 60
`);
    assert.equal(c.targets.length, 4);
    assert.equal(c.routes.admin, '/dash');
  });

  const rules: Array<[string, string, RegExp]> = [
    ['unknown top-level key', 'admin_password_env = "ADMIN_PW"', 'admin_password_env = "ADMIN_PW"\nlisten = "x"'],
    ['unknown key in a table', '[security]', '[security]\nfoo = 1'],
    ['unknown key in a target', 'token_env = "PROVIDER_TOKEN"', 'token_env = "PROVIDER_TOKEN"\napi_key = "sk-x"'],
    ['unknown key in a token', 'caller = "client-a"', 'caller = "client-a"\nvalue = "abc"'],
  ].map(([name, from, to]) => [name!, variant(from!, to!), /unknown key "(listen|foo|api_key|value)"/]);
  for (const [name, toml, re] of rules) it(`rejects an ${name}, naming the key`, () => rejects(toml, re));

  it('names the table of an unknown key', () =>
    rejects(
      variant('[security]', '[security]\n[security.rate_limit]\nburts = 5'),
      /unknown key "burts" in security\.rate_limit/,
    ));
  it('requires [security]', () =>
    rejects(variant('[security]\n', ''), /^missing required table \[security\] \(it may be empty\)$/));
  it('requires admin_password_env', () =>
    rejects(variant('admin_password_env = "ADMIN_PW"', ''), /^missing required key "admin_password_env" \(a string\)$/));
  it('requires at least one token', () =>
    rejects(
      VALID.replace(/\[\[tokens\]\][\s\S]*?targets = \["p"\]\n/, ''),
      /^missing required \[\[tokens\]\] entries \(at least one is needed\)$/,
    ));
  it('requires at least one target', () =>
    rejects(
      VALID.replace(/\[\[targets\]\][\s\S]*$/, '').replace('targets = ["p"]', 'targets = []'),
      /^missing required \[\[targets\]\] entries \(at least one is needed\)$/,
    ));

  it('rejects env var names outside [A-Za-z0-9_]', () => {
    rejects(variant('env = "TOKEN_A"', 'env = "TOKEN-A"'), /^tokens\[0\]\.env: must be an environment variable name/);
    rejects(variant('admin_password_env = "ADMIN_PW"', 'admin_password_env = "ADMIN PW"'), /^admin_password_env: /);
    rejects(variant('token_env = "PROVIDER_TOKEN"', 'token_env = ""'), /^targets\[0\]\.token_env: /);
  });

  it('rejects empty or untrimmed names and labels', () => {
    rejects(
      variant('caller = "client-a"', 'caller = " client-a"'),
      /^tokens\[0\]\.caller: must not have leading or trailing whitespace/,
    );
    rejects(variant('caller = "client-a"', 'caller = ""'), /^tokens\[0\]\.caller: must not be empty/);
    rejects(variant('name = "p"', 'name = "p "').replace('targets = ["p"]', 'targets = []'), /^targets\[0\]\.name: /);
  });

  it('rejects a token target that does not exist', () =>
    rejects(variant('targets = ["p"]', 'targets = ["p", "nope"]'), /^tokens\[0\]\.targets\[1\]: unknown target "nope"/));
  it('rejects duplicate target names', () =>
    rejects(VALID + VALID.slice(VALID.indexOf('[[targets]]')), /^targets\[1\]\.name: duplicate target name "p"/));
  it('rejects duplicate caller labels', () =>
    rejects(
      variant('[[targets]]', '[[tokens]]\nenv = "TOKEN_B"\ncaller = "client-a"\n[[targets]]'),
      /^tokens\[1\]\.caller: duplicate caller label/,
    ));
  it('rejects an unknown target type', () =>
    rejects(variant('type = "openai_compatible"', 'type = "ollama"'), /^targets\[0\]\.type: must be one of/));
  it('requires base_url and token_env for openai_compatible', () => {
    rejects(
      variant('base_url = "http://127.0.0.1:9/v1"\n', ''),
      /^missing required key "base_url" in targets\[0\] \(a string\)$/,
    );
    rejects(variant('token_env = "PROVIDER_TOKEN"\n', ''), /^missing required key "token_env" in targets\[0\] \(a string\)$/);
  });
  it('rejects a base_url that is not http(s) or carries credentials', () => {
    rejects(variant('http://127.0.0.1:9/v1', 'ftp://x/v1'), /^targets\[0\]\.base_url: must be an http\(s\) URL/);
    rejects(variant('http://127.0.0.1:9/v1', 'https://user:pw@x/v1'), /^targets\[0\]\.base_url: /);
  });

  it('rejects routes that are not absolute or carry ? or #', () => {
    rejects(variant('[security]', '[security]\n[routes]\nquery = "v1/query"'), /^routes\.query: must be an absolute path/);
    rejects(variant('[security]', '[security]\n[routes]\nchat = "/v1/chat?x=1"'), /^routes\.chat: must not contain "\?" or "#"/);
    rejects(variant('[security]', '[security]\n[routes]\nmetrics = "/m#x"'), /^routes\.metrics: must not contain/);
  });
  it('requires distinct public routes', () =>
    rejects(variant('[security]', '[security]\n[routes]\nchat = "/v1/query"'), /^routes\.chat: must differ from routes\.query/));
  it('requires the OpenAI and Anthropic routes distinct from the Sipp routes and each other', () => {
    rejects(
      variant('[security]', '[security]\n[routes]\nopenai_chat = "/v1/chat"'),
      /^routes\.openai_chat: must differ from routes\.chat/,
    );
    rejects(
      variant('[security]', '[security]\n[routes]\nanthropic_messages = "/v1/chat/completions"'),
      /^routes\.anthropic_messages: must differ from routes\.openai_chat/,
    );
    rejects(
      variant('[security]', '[security]\n[routes]\nopenai_models = "/v1/embed"'),
      /^routes\.openai_models: must differ from routes\.embed/,
    );
    rejects(
      variant('[security]', '[security]\n[routes]\nopenai_embeddings = "embeddings"'),
      /^routes\.openai_embeddings: must be an absolute path/,
    );
  });
  it('requires distinct management routes', () =>
    rejects(
      variant('[security]', '[security]\n[routes]\nmetrics = "/healthz"'),
      /^routes\.metrics: must differ from routes\.health/,
    ));

  it('rejects bad bind addresses and equal binds', () => {
    rejects(variant('admin_password_env', 'public_bind = "localhost"\nadmin_password_env'), /^public_bind: must be "host:port"/);
    rejects(variant('admin_password_env', 'public_bind = "127.0.0.1:70000"\nadmin_password_env'), /^public_bind: /);
    rejects(
      variant('admin_password_env', 'management_bind = "127.0.0.1:8080"\nadmin_password_env'),
      /^management_bind: must differ from public_bind/,
    );
    assert.equal(
      parseConfigText(variant('admin_password_env', 'public_bind = "[::1]:8080"\nadmin_password_env')).public_bind,
      '[::1]:8080',
    );
  });

  it('rejects CIDRs with an invalid address or prefix', () => {
    rejects(
      variant('[security]', '[security.client_ip]\ntrusted_proxy_cidrs = ["10.0.0.0/33"]'),
      /^security\.client_ip\.trusted_proxy_cidrs\[0\]: must be a CIDR/,
    );
    rejects(variant('[security]', '[security.client_ip]\ntrusted_proxy_cidrs = ["10.0.0/8"]'), /trusted_proxy_cidrs\[0\]/);
    rejects(variant('[security]', '[security.client_ip]\ntrusted_proxy_cidrs = ["::1/129"]'), /trusted_proxy_cidrs\[0\]/);
    rejects(variant('[security]', '[security.client_ip]\nsource = "cf_connecting_ip"'), /^security\.client_ip\.source: /);
  });

  it('requires limits and durations > 0', () => {
    rejects(variant('admin_password_env', 'max_request_bytes = 0\nadmin_password_env'), /^max_request_bytes: must be > 0/);
    rejects(
      variant('admin_password_env', 'max_concurrent_requests = -1\nadmin_password_env'),
      /^max_concurrent_requests: must be > 0/,
    );
    rejects(
      variant('[security]', '[security.rate_limit]\nrequests_per_minute = 0'),
      /^security\.rate_limit\.requests_per_minute: must be > 0/,
    );
    rejects(variant('[security]', '[security.rate_limit]\nburst = 0'), /^security\.rate_limit\.burst: must be > 0/);
    rejects(
      variant('token_env = "PROVIDER_TOKEN"', 'token_env = "PROVIDER_TOKEN"\ntimeout_seconds = 0'),
      /^targets\[0\]\.timeout_seconds: must be > 0/,
    );
  });

  it('bounds max_json_depth and the provider limits, with their documented defaults', () => {
    const c = parseConfigText(VALID);
    assert.equal(c.max_json_depth, 64);
    const t = parseConfigText(
      variant(
        'token_env = "PROVIDER_TOKEN"',
        'token_env = "PROVIDER_TOKEN"\nmax_event_bytes = 2048\nmax_response_bytes = 4096\nkeepalive_timeout_seconds = 0.5',
      ),
    ).targets[0]!;
    assert.ok(t.type === 'openai_compatible');
    assert.deepEqual([t.max_event_bytes, t.max_response_bytes, t.keepalive_timeout_seconds], [2048, 4096, 0.5]);
    rejects(variant('admin_password_env', 'max_json_depth = 1\nadmin_password_env'), /^max_json_depth: must be >= 2/);
    rejects(variant('admin_password_env', 'max_json_depth = 2.5\nadmin_password_env'), /^max_json_depth: /);
    rejects(
      variant('token_env = "PROVIDER_TOKEN"', 'token_env = "PROVIDER_TOKEN"\nmax_event_bytes = 10'),
      /^targets\[0\]\.max_event_bytes: must be >= 1024/,
    );
    rejects(
      variant('token_env = "PROVIDER_TOKEN"', 'token_env = "PROVIDER_TOKEN"\nmax_response_bytes = 0'),
      /^targets\[0\]\.max_response_bytes: must be >= 1024/,
    );
    rejects(
      variant('token_env = "PROVIDER_TOKEN"', 'token_env = "PROVIDER_TOKEN"\nkeepalive_timeout_seconds = 0'),
      /^targets\[0\]\.keepalive_timeout_seconds: must be > 0/,
    );
  });

  it('refuses wildcard or malformed CORS origins', () => {
    rejects(variant('admin_password_env', 'allowed_origins = ["*"]\nadmin_password_env'), /^allowed_origins\[0\]: /);
    rejects(
      variant('admin_password_env', 'allowed_origins = ["https://app.example.com/"]\nadmin_password_env'),
      /^allowed_origins\[0\]: /,
    );
  });

  it('rejects wrong value types, naming the field', () => {
    rejects(variant('[security]', '[security.rate_limit]\nenabled = "yes"'), /^security\.rate_limit\.enabled: /);
    rejects(variant('targets = ["p"]', 'targets = "p"'), /^tokens\[0\]\.targets: /);
  });

  it('reports invalid TOML by position without echoing the line', () => {
    assert.throws(
      () => parseConfigText('admin_password_env = "x\n'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^invalid TOML at line \d+, column \d+$/);
        return true;
      },
    );
  });
});
