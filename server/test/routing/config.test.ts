/** `[[groups]]` and `[targets.circuit]` validation: every rule, with messages naming the field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { rejectsConfig } from '../support/config-text.js';
import { runCli } from '../support/cli.js';

const BASE = `
admin_password_env = "ADMIN_PW"
[security]
[[tokens]]
env = "TOKEN_A"
caller = "client-a"
targets = ["chat"]
[[targets]]
name = "p"
type = "openai_compatible"
model = "m"
base_url = "http://127.0.0.1:9/v1"
token_env = "PROVIDER_TOKEN"
[targets.circuit]
failure_threshold = 3
open_seconds = 10
[[targets]]
name = "q"
type = "anthropic"
model = "claude"
api_key_env = "ANTHROPIC_KEY"
`;

const GROUP = `
[[groups]]
name = "chat"
strategy = "weighted"
targets = ["p", "q"]
weights = [1, 3]
[groups.retry]
attempts = 2
backoff_ms = 100
max_backoff_ms = 2000
on = ["connect", "5xx"]
`;

const rejects = rejectsConfig;

const withGroup = (from: string, to: string) => {
  assert.ok(GROUP.includes(from), `fixture lacks ${from}`);
  return BASE + GROUP.replace(from, to);
};

describe('groups and circuit configuration', () => {
  it('accepts a group, its retry policy and a target circuit', () => {
    const c = parseConfigText(BASE + GROUP);
    assert.deepEqual(c.groups, [
      {
        name: 'chat',
        strategy: 'weighted',
        targets: ['p', 'q'],
        weights: [1, 3],
        retry: { attempts: 2, backoff_ms: 100, max_backoff_ms: 2000, on: ['connect', '5xx'] },
      },
    ]);
    assert.deepEqual(c.targets[0]!.circuit, { failure_threshold: 3, open_seconds: 10 });
    assert.equal(c.targets[1]!.circuit, undefined);
  });

  it('fills defaults: fallback, one attempt, every failure kind', () => {
    const c = parseConfigText(BASE + '[[groups]]\nname = "chat"\ntargets = ["q", "p"]\n');
    assert.deepEqual(c.groups[0], {
      name: 'chat',
      strategy: 'fallback',
      targets: ['q', 'p'],
      retry: { attempts: 1, backoff_ms: 100, max_backoff_ms: 2000, on: ['connect', 'timeout', '429', '5xx', 'busy'] },
    });
    assert.deepEqual(parseConfigText(BASE.replace('targets = ["chat"]', 'targets = ["p"]')).groups, []);
  });

  it('a token allowlist may name a group but not an unknown name', () => {
    rejects(BASE.replace('targets = ["chat"]', 'targets = ["nope"]'), /^tokens\[0\]\.targets\[0\]: unknown target "nope"/);
  });

  const cases: Array<[string, string, string, RegExp]> = [
    ['group name taken by a target', 'name = "chat"', 'name = "p"', /groups\[0\]\.name: "p" is already a target name/],
    ['unknown member', 'targets = ["p", "q"]', 'targets = ["p", "nope"]', /groups\[0\]\.targets\[1\]: unknown target "nope"/],
    ['repeated member', 'targets = ["p", "q"]', 'targets = ["p", "p"]', /groups\[0\]\.targets: must not list a target twice/],
    [
      'no member',
      'targets = ["p", "q"]\nweights = [1, 3]',
      'targets = []',
      /groups\[0\]\.targets: must list at least one target/,
    ],
    ['unknown strategy', 'strategy = "weighted"', 'strategy = "random"', /groups\[0\]\.strategy: /],
    [
      'weights of the wrong length',
      'weights = [1, 3]',
      'weights = [1]',
      /groups\[0\]\.weights: must have one weight per target \(2\)/,
    ],
    ['a weight of zero', 'weights = [1, 3]', 'weights = [0, 3]', /groups\[0\]\.weights\[0\]: must be > 0/],
    ['weighted without weights', 'weights = [1, 3]\n', '', /groups\[0\]\.weights: is required when strategy = "weighted"/],
    [
      'weights for another strategy',
      'strategy = "weighted"',
      'strategy = "round_robin"',
      /groups\[0\]\.weights: is only allowed when strategy = "weighted"/,
    ],
    ['attempts below 1', 'attempts = 2', 'attempts = 0', /groups\[0\]\.retry\.attempts: must be ≥ 1/],
    ['fractional attempts', 'attempts = 2', 'attempts = 1.5', /groups\[0\]\.retry\.attempts: must be an integer/],
    ['negative backoff', 'backoff_ms = 100', 'backoff_ms = -1', /groups\[0\]\.retry\.backoff_ms: must be ≥ 0/],
    [
      'max below base',
      'max_backoff_ms = 2000',
      'max_backoff_ms = 50',
      /groups\[0\]\.retry\.max_backoff_ms: must be ≥ backoff_ms/,
    ],
    ['unknown failure kind', 'on = ["connect", "5xx"]', 'on = ["connect", "4xx"]', /groups\[0\]\.retry\.on\[1\]: /],
    ['unknown retry key', 'attempts = 2', 'attempts = 2\ntries = 3', /unknown key "tries" in groups\[0\]\.retry/],
    ['unknown group key', 'strategy = "weighted"', 'strategy = "weighted"\nsticky = true', /unknown key "sticky" in groups\[0\]/],
  ];
  for (const [what, from, to, expected] of cases) it(`rejects ${what}`, () => rejects(withGroup(from, to), expected));

  it('rejects a duplicate group name', () => rejects(BASE + GROUP + GROUP, /groups\[1\]\.name: duplicate group name "chat"/));

  it('rejects a group inside a group', () =>
    rejects(
      BASE + GROUP + '[[groups]]\nname = "outer"\ntargets = ["chat"]\n',
      /groups\[1\]\.targets\[0\]: "chat" is a group; groups may not contain groups/,
    ));

  it('rejects bad circuit settings', () => {
    rejects(
      BASE.replace('failure_threshold = 3', 'failure_threshold = 0'),
      /targets\[0\]\.circuit\.failure_threshold: must be ≥ 1/,
    );
    rejects(BASE.replace('open_seconds = 10', 'open_seconds = 0'), /targets\[0\]\.circuit\.open_seconds: must be > 0/);
    rejects(
      BASE.replace('open_seconds = 10', 'open_seconds = 10\nhalf_open = 2'),
      /unknown key "half_open" in targets\[0\]\.circuit/,
    );
  });

  it('`check` reports a group problem by its field and exits non-zero', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sipp-groups-'));
    try {
      const path = join(dir, 'gateway.toml');
      await writeFile(path, BASE + GROUP.replace('targets = ["p", "q"]', 'targets = ["p", "nope"]'));
      const r = await runCli(['check', '--config', path]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /groups\[0\]\.targets\[1\]: unknown target "nope"/);
      await writeFile(path, BASE + GROUP);
      assert.equal((await runCli(['check', '--config', path])).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
