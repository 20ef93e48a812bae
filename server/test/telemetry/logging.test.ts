/**
 * Logs: one JSON line per request with the fields of docs/operations.md#logs, levels from LOG_LEVEL
 * or RUST_LOG directives, and no secret or prompt in any line, response or
 * metric — even at trace level and on error paths.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createLogging,
  DEFAULT_LOG_BUFFER_BYTES,
  droppedIn,
  levelFor,
  logBufferBytes,
  parseLevelDirectives,
} from '../../src/telemetry/logger.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { postJson } from '../support/http.js';

const TOKEN = 'tok-SECRET-logging-0123456789';
const ADMIN = 'admin-SECRET-password-xyz';
const PROMPT = 'PROMPT-MARKER-do-not-log';

describe('log level directives', () => {
  it('parses LOG_LEVEL words and RUST_LOG directive lists', () => {
    assert.equal(parseLevelDirectives('info').defaultLevel, 'info');
    assert.equal(parseLevelDirectives('WARN').defaultLevel, 'warn');
    assert.equal(parseLevelDirectives('off').defaultLevel, 'silent');
    const plan = parseLevelDirectives('debug,sipp_gateway_server=trace');
    assert.equal(plan.defaultLevel, 'debug');
    assert.equal(levelFor(plan, 'sipp_gateway_server'), 'trace');
    assert.equal(levelFor(plan, 'sipp_gateway_server::public'), 'trace');
    assert.equal(levelFor(plan, 'other_crate'), 'debug');
    const nested = parseLevelDirectives('warn,sipp_gateway_server=info,sipp_gateway_server::public=error');
    assert.equal(levelFor(nested, 'sipp_gateway_server::public'), 'error');
    assert.equal(levelFor(nested, 'sipp_gateway_server::admin'), 'info');
    assert.equal(levelFor(nested, 'sipp_gateway_serverx'), 'warn', 'prefix matches whole path segments only');
    assert.equal(parseLevelDirectives('bogus').defaultLevel, 'info');
  });

  it('LOG_LEVEL wins over RUST_LOG and component levels apply', () => {
    const lines: string[] = [];
    const logging = createLogging({
      env: { RUST_LOG: 'warn,sipp_gateway_server::public=debug' },
      destination: { write: (l: string) => void lines.push(l) },
    });
    logging.component('sipp_gateway_server::public').debug('public-debug');
    logging.component('sipp_gateway_server::admin').info('admin-info');
    logging.component('sipp_gateway_server::admin').warn('admin-warn');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).msg),
      ['public-debug', 'admin-warn'],
    );
    const l2: string[] = [];
    const byLogLevel = createLogging({
      env: { RUST_LOG: 'trace', LOG_LEVEL: 'error' },
      destination: { write: (l: string) => void l2.push(l) },
    });
    byLogLevel.component('sipp_gateway_server').info('hidden');
    assert.equal(l2.length, 0);
  });

  it('taps every line before the scrubber (test hook), so tests can tell a real leak from a scrubbed one', () => {
    const lines: string[] = [];
    const raw: string[] = [];
    const logging = createLogging({
      env: { LOG_LEVEL: 'info' },
      destination: { write: (l: string) => void lines.push(l) },
      rawTap: (l) => void raw.push(l),
    });
    logging.addSecrets(['plain-secret-value']);
    logging.root.info('oops plain-secret-value');
    logging.root.debug('below the level');
    assert.equal(raw.length, 1);
    assert.ok(raw[0]!.includes('plain-secret-value'));
    assert.ok(!lines[0]!.includes('plain-secret-value'));
  });

  it('scrubs registered secrets from every line, even when code logs them by mistake', () => {
    const lines: string[] = [];
    const logging = createLogging({ env: { LOG_LEVEL: 'trace' }, destination: { write: (l: string) => void lines.push(l) } });
    logging.addSecrets(['s3cr3t"quoted-value', 'plain-secret-value']);
    logging.root.info({ detail: 'got plain-secret-value and s3cr3t"quoted-value' }, 'oops plain-secret-value');
    assert.ok(!lines[0]!.includes('plain-secret-value'));
    assert.ok(!lines[0]!.includes('s3cr3t'));
    assert.match(lines[0]!, /\[REDACTED\]/);
    JSON.parse(lines[0]!);
  });

  it('refuses to scrub a value so short that the words it blanks out would reveal it', () => {
    const lines: string[] = [];
    const logging = createLogging({ env: { LOG_LEVEL: 'info' }, destination: { write: (l: string) => void lines.push(l) } });
    for (const short of ['admin', 't', 'fifteen-chars-x']) assert.throws(() => logging.addSecrets([short]), /shorter than 16/);
    logging.component('sipp_gateway_server::admin').info('admin signed in at time 0');
    assert.ok(
      lines[0]!.includes('sipp_gateway_server::admin') && lines[0]!.includes('admin signed in at time'),
      'nothing was blanked out',
    );
    assert.doesNotThrow(() => logging.addSecrets(['sixteen-chars-xy']));
  });

  it('SIPP_GATEWAY_LOG_BUFFER_BYTES bounds the unwritten log text: a whole number >= 64 KiB, else start-up stops', () => {
    assert.equal(logBufferBytes({}), DEFAULT_LOG_BUFFER_BYTES);
    assert.equal(logBufferBytes({ SIPP_GATEWAY_LOG_BUFFER_BYTES: ' ' }), DEFAULT_LOG_BUFFER_BYTES);
    assert.equal(logBufferBytes({ SIPP_GATEWAY_LOG_BUFFER_BYTES: '65536' }), 65536);
    for (const bad of ['65535', '1e9x', '70000.5', '-1'])
      assert.throws(() => logBufferBytes({ SIPP_GATEWAY_LOG_BUFFER_BYTES: bad }), /SIPP_GATEWAY_LOG_BUFFER_BYTES must be/, bad);
    assert.throws(() => createLogging({ env: { SIPP_GATEWAY_LOG_BUFFER_BYTES: '10' } }), /SIPP_GATEWAY_LOG_BUFFER_BYTES/);
  });

  it('keeps every secret registered across several calls (a later call adds, never replaces)', () => {
    const lines: string[] = [];
    const logging = createLogging({ env: { LOG_LEVEL: 'info' }, destination: { write: (l: string) => void lines.push(l) } });
    logging.addSecrets(['first-token-value']);
    logging.addSecrets(['redis-password-value']);
    logging.root.info('first-token-value and redis-password-value');
    assert.ok(!lines[0]!.includes('first-token-value'));
    assert.ok(!lines[0]!.includes('redis-password-value'));
  });
});

describe('request logs and secrecy', () => {
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gw: TestGateway;
  const responses: string[] = [];

  before(async () => {
    openai = await startFakeOpenAI({ apiKey: 'sk-SECRET-openai-key-abcdef' });
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-SECRET-anthropic-key' });
    gw = await startTestGateway({
      logLevel: 'trace',
      toml: `admin_password_env = "ADMIN_PW"
[security]
[[tokens]]
env = "T"
caller = "prod-client"
[[targets]]
name = "oa"
type = "openai"
model = "gpt"
api_key_env = "OPENAI_KEY"
base_url = "${openai.url}"
timeout_seconds = 3
[[targets]]
name = "an"
type = "anthropic"
model = "claude"
api_key_env = "ANTHROPIC_KEY"
base_url = "${anthropic.origin}"
timeout_seconds = 3
`,
      env: { ADMIN_PW: ADMIN, T: TOKEN, OPENAI_KEY: openai.apiKey, ANTHROPIC_KEY: anthropic.apiKey },
    });
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
    await anthropic?.close();
  });

  const call = async (path: string, body: object, token = TOKEN) => {
    const r = await postJson(`${gw.publicUrl}${path}`, body, { token });
    responses.push(r.text, JSON.stringify([...r.headers]));
    return r;
  };

  it('writes one line per request with the documented fields', async () => {
    const before = gw.logs.length;
    const r = await call('/v1/chat', { model: 'oa', messages: [{ role: 'user', content: PROMPT }] });
    assert.equal(r.status, 200);
    const lines = gw.logs
      .slice(before)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'request');
    assert.equal(lines.length, 1);
    const line = lines[0];
    assert.equal(line.reqId, r.headers.get('x-request-id'));
    assert.equal(line.operation, 'chat');
    assert.equal(line.target, 'oa');
    assert.equal(line.caller, 'prod-client');
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.inputTokens, 8);
    assert.equal(line.outputTokens, 3);
    assert.equal(line.level, 'info');
    assert.ok(line.time);
  });

  it('keeps every secret and prompt out of logs, error bodies and metrics on error paths', async () => {
    const msg = { model: 'oa', messages: [{ role: 'user', content: PROMPT }] };
    for (const behavior of [
      { kind: 'status', status: 401 },
      { kind: 'status', status: 500 },
      { kind: 'status', status: 429, headers: { 'retry-after': '3' } },
      { kind: 'malformed' },
      { kind: 'reset' },
      { kind: 'stall-headers' },
    ] as const) {
      openai.setBehavior(behavior);
      anthropic.setBehavior(behavior);
      const a = await call('/v1/chat', msg);
      assert.ok(a.status >= 500 || a.status === 429, `${behavior.kind}: ${a.status}`);
      await call('/v1/chat', { ...msg, model: 'an', stream: true });
      await call('/v1/query', { model: 'oa', prompt: PROMPT, stream: true });
    }
    openai.setBehavior({ kind: 'normal' });
    anthropic.setBehavior({ kind: 'normal' });
    await call('/v1/embed', { model: 'an', input: PROMPT });
    await call('/v1/chat', msg, `${TOKEN}x`);
    await call('/v1/chat', msg, ADMIN);
    await call('/v1/chat', '{"model": "oa", "messages": [' as unknown as object);
    const metrics = await (await fetch(`${gw.managementUrl}/metrics`)).text();
    const index = await (await fetch(`${gw.managementUrl}/`)).text();
    // Raw lines too: what the code tried to log, before the scrubber had a chance.
    const everything = [...gw.rawLogs, ...gw.logs, ...responses, metrics, index].join('\n');
    assert.equal(gw.rawLogs.length, gw.logs.length, 'the raw tap sees every line');
    assert.ok(gw.logs.length > 20, 'trace level produced lines');
    for (const secret of [TOKEN, ADMIN, openai.apiKey, anthropic.apiKey, PROMPT]) {
      assert.ok(!everything.includes(secret), `leaked ${secret.slice(0, 12)}...`);
    }
  });
});

describe('lines dropped while stdout is blocked', () => {
  it('counts the lines of a dropped chunk, and a dropped report of drops passes its count on', () => {
    const lines: string[] = [];
    const logging = createLogging({ env: {}, destination: { write: (l: string) => void lines.push(l) } });
    logging.root.info({ reqId: 'a' }, 'request');
    // A logged value that looks like a report is escaped by pino and counts as one line only.
    logging.root.info(
      { note: '"dropped":500,"msg":"stdout was slow or blocked; log lines beyond SIPP_GATEWAY_LOG_BUFFER_BYTES were dropped"' },
      'x',
    );
    const [plain, forged] = lines;
    assert.equal(droppedIn(plain! + forged!), 2);
    // The report as the gateway writes it (createLogging's own warn line) stands for its count and itself.
    logging.root.warn({ dropped: 7 }, 'stdout was slow or blocked; log lines beyond SIPP_GATEWAY_LOG_BUFFER_BYTES were dropped');
    const report = lines[2]!;
    assert.match(report, /"dropped":7,"msg":/);
    assert.equal(droppedIn(plain! + report + forged!), 3 + 7);
    assert.equal(droppedIn(report + report), 2 + 14);
  });
});
