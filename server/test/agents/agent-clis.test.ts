/**
 * Real agent CLIs end to end (docs/agents.md#testing-with-the-real-clis):
 * `claude -p` (Claude Code) and `codex exec` (Codex CLI), configured with the
 * gateway's base URL and a gateway token only, against a gateway whose targets
 * are scripted fake providers that record what they receive. Nothing leaves
 * the machine: the CLIs' own telemetry, update checks and non-essential
 * traffic are switched off by their documented environment variables and
 * settings, and a HOME of their own keeps the user's configuration out.
 *
 * The CLIs are prebuilt binaries kept out of the workspace install: they live
 * in tools/agent-clis (its own package.json and lock file), installed on
 * demand by `npm run agents:install`. Without them each test skips, saying so.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startFakeResponsesApi, type FakeResponsesApi } from '../support/fake-openai-responses.js';
import { BASE_TOML, startTestGateway, type TestGateway } from '../support/gateway.js';
import { REPO_ROOT } from '../support/paths.js';

const TOKEN = 'tok-agent-clis-0123456789abcdef';
const TOOLS = join(REPO_ROOT, 'tools/agent-clis/node_modules');
const platform = `${process.platform}-${process.arch}`;
/** The platform binaries the wrapper packages would run. */
const CLAUDE = join(TOOLS, `@anthropic-ai/claude-code-${platform}/claude`);
const CODEX = join(TOOLS, '@openai/codex/bin/codex.js');
const NOT_INSTALLED = 'not installed: run `npm run agents:install` (tools/agent-clis) to run the real agent CLIs';

/** Runs a CLI to completion with a time limit (a hung CLI fails the test with its output). */
function runCli(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  limitMs = 120_000,
): Promise<{ code: number | string; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', out, err });
    });
  });
}

/** A clean environment: only what the CLI needs, no credential or configuration of the user's. */
function baseEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, TMPDIR: home, LANG: 'C.UTF-8', TERM: 'dumb', NO_COLOR: '1' };
}

describe('real agent CLIs through the gateway', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAI;
  let responses: FakeResponsesApi;
  let gw: TestGateway;
  let home: string;

  before(async () => {
    [anthropic, openai, responses] = await Promise.all([startFakeAnthropic(), startFakeOpenAI(), startFakeResponsesApi()]);
    gw = await startTestGateway({
      toml: `${BASE_TOML}
[[tokens]]
env = "T"
caller = "agent"
[[targets]]
name = "claude"
type = "anthropic"
model = "claude-upstream"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.url}"
aliases = ["claude-*"]
[[targets]]
name = "codex-native"
type = "openai"
api = "responses"
model = "gpt-upstream-responses"
api_key_env = "RESPONSES_KEY"
base_url = "${responses.url}"
aliases = ["gpt-5*"]
[[targets]]
name = "codex-chat"
type = "openai_compatible"
model = "chat-upstream"
token_env = "OPENAI_KEY"
base_url = "${openai.url}"
`,
      env: {
        TEST_ADMIN_PASSWORD: 'admin-pw-agent-clis-0123',
        T: TOKEN,
        ANTHROPIC_KEY: anthropic.apiKey,
        OPENAI_KEY: openai.apiKey,
        RESPONSES_KEY: responses.apiKey,
      },
      logLevel: 'info',
    });
    home = mkdtempSync(join(tmpdir(), 'sipp-agent-clis-'));
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([anthropic?.close(), openai?.close(), responses?.close()]);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Claude Code's environment: the gateway's base URL and token, nothing else of the user's. */
  const claudeEnv = (model?: string): NodeJS.ProcessEnv => ({
    ...baseEnv(home),
    ANTHROPIC_BASE_URL: gw.publicUrl,
    ANTHROPIC_AUTH_TOKEN: TOKEN,
    // Documented switches: no telemetry, error reporting, auto-update or other non-essential calls.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    // Main and background work on one name (else the aliases route Claude Code's own names).
    ...(model ? { ANTHROPIC_MODEL: model, ANTHROPIC_DEFAULT_HAIKU_MODEL: model, ANTHROPIC_SMALL_FAST_MODEL: model } : {}),
  });

  /** `claude -p` with JSON output: its final result. */
  async function claudeP(env: NodeJS.ProcessEnv): Promise<{ result: any; diag: string }> {
    const r = await runCli(CLAUDE, ['-p', 'Say hello', '--output-format', 'json', '--max-turns', '1'], env, home);
    const diag = `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;
    assert.equal(r.code, 0, diag);
    const result = JSON.parse(r.out.trim().split('\n').at(-1)!);
    assert.equal(result.is_error, false, diag);
    return { result, diag };
  }

  it(
    'Claude Code (`claude -p`) answers through an anthropic target, its body passed through',
    { skip: !existsSync(CLAUDE) && NOT_INSTALLED },
    async () => {
      const before = anthropic.requests.length;
      const { result, diag } = await claudeP(claudeEnv());
      assert.equal(result.result, 'Hello from Claude', diag);
      const sent = anthropic.requests.slice(before).filter((q) => q.path === '/v1/messages');
      assert.ok(sent.length >= 1, diag);
      // Passed through: Claude Code's own fields reach the provider (only `model` rewritten), the token does not.
      const main = sent.at(-1)!;
      assert.equal(main.body.model, 'claude-upstream');
      assert.ok(Array.isArray(main.body.system) || typeof main.body.system === 'string');
      assert.equal(main.headers['x-api-key'], anthropic.apiKey);
      assert.ok(!JSON.stringify(main.headers).includes(TOKEN));
    },
  );

  it(
    'Claude Code answers through an OpenAI-compatible target (translated: its hints ignored, not refused)',
    { skip: !existsSync(CLAUDE) && NOT_INSTALLED },
    async () => {
      const before = openai.requests.length;
      const { result, diag } = await claudeP(claudeEnv('codex-chat'));
      assert.equal(result.result, 'Gateway ready', diag);
      const sent = openai.requests.slice(before);
      assert.ok(sent.length >= 1 && sent.every((q) => q.path === '/v1/chat/completions'), diag);
      assert.equal(sent.at(-1)!.body.model, 'chat-upstream');
    },
  );

  for (const [target, upstream] of [
    ['codex-native', 'native Responses target: the body as sent'],
    ['codex-chat', 'translated to Chat Completions'],
  ] as const) {
    it(
      `Codex (\`codex exec\`) answers through ${target} (${upstream})`,
      { skip: !existsSync(CODEX) && NOT_INSTALLED },
      async () => {
        const codexHome = join(home, `.codex-${target}`);
        mkdirSync(codexHome, { recursive: true });
        const env = { ...baseEnv(home), CODEX_HOME: codexHome, SIPP_GATEWAY_TOKEN: TOKEN };
        const args = [
          CODEX,
          'exec',
          '--skip-git-repo-check',
          '--sandbox',
          'read-only',
          '-m',
          target === 'codex-native' ? 'gpt-5-codex' : 'codex-chat',
          '-c',
          'model_provider="sipp"',
          '-c',
          `model_providers.sipp={name="sipp-gateway",base_url="${gw.publicUrl}/v1",env_key="SIPP_GATEWAY_TOKEN",wire_api="responses"}`,
          // Documented settings: no update check, no analytics or telemetry export.
          '-c',
          'check_for_update_on_startup=false',
          '-c',
          'analytics.enabled=false',
          '-c',
          'otel.exporter="none"',
          'Say hello',
        ];
        const fake = target === 'codex-native' ? responses.requests : openai.requests;
        const before = fake.length;
        const r = await runCli(process.execPath, args, env, home);
        const diag = `exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`;
        assert.equal(r.code, 0, diag);
        const expected = target === 'codex-native' ? 'Native hello' : 'Gateway ready';
        assert.ok(r.out.includes(expected), diag);
        const sent = fake.slice(before);
        assert.ok(sent.length >= 1, diag);
        if (target === 'codex-native') {
          const q = sent.find((s) => 'url' in s && s.url === '/v1/responses') as any;
          assert.ok(q, diag);
          assert.equal(q.body.model, 'gpt-upstream-responses');
          // Codex's own fields arrive untouched.
          // Codex's own fields arrive untouched: its server-side web_search and namespace tools, store, include, metadata.
          const types = q.body.tools.map((t: any) => t.type);
          assert.ok(types.includes('web_search') && types.includes('namespace') && types.includes('function'), diag);
          assert.equal(q.body.store, false);
          assert.deepEqual(q.body.include, ['reasoning.encrypted_content']);
          assert.equal(typeof q.body.client_metadata, 'object');
          assert.equal(q.body.stream, true);
        } else {
          // Translated: function tools go on, Codex's server-side tools are left out (named in x-sipp-ignored).
          const q = sent.at(-1) as any;
          assert.equal(q.path, '/v1/chat/completions');
          assert.ok(q.body.tools.length > 0 && q.body.tools.every((t: any) => t.type === 'function'), diag);
          const records = gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.target === 'codex-chat');
          const ignored = records.at(-1)?.ignored ?? [];
          assert.ok(ignored.includes('web_search') && ignored.includes('namespace'), JSON.stringify(records.at(-1)));
        }
      },
    );
  }
});
