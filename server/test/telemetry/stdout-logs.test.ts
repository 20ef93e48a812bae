/**
 * The log lines on the real stdout (docs/operations.md#how-lines-reach-stdout): written
 * asynchronously in batches, yet every line complete and scrubbed; all of
 * them out on SIGTERM, on a crash and after Logging.flush(); and a blocked
 * stdout neither stops the gateway answering nor grows its memory without
 * bound (lines beyond SIPP_GATEWAY_LOG_BUFFER_BYTES are dropped and counted).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { CLI, expectServing, NODE_ARGS, serveToml, startServe } from '../support/cli.js';
import { FROM_SOURCE } from '../support/paths.js';
import { freePort, until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'sipp-stdout-logs-'));
const TOKEN = 'tok-stdout-logs-secret-0123456789';
const ADMIN = 'admin-pw-stdout-logs-0123456789';
/** The secret stdout-child.ts registers and logs by mistake. */
const CHILD_SECRET = 'child-secret-value-0123456789';
const CHILD = join(dirname(fileURLToPath(import.meta.url)), `stdout-child.${FROM_SOURCE ? 'ts' : 'js'}`);

/** Runs stdout-child.ts in `mode`; resolves with what reached its stdout and how it ended. */
function runChild(mode: 'crash' | 'flush-then-kill'): Promise<{ stdout: string; code: number | null; signal: string | null }> {
  const child = spawn(process.execPath, [...NODE_ARGS, CHILD, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.resume();
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ stdout, code, signal })));
}

/** Every line of `text` as JSON; a torn or partial line fails the parse. */
function parseLines(text: string): Array<Record<string, unknown>> {
  assert.ok(text.endsWith('\n'), 'the output ends with a whole line');
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function chat(pub: number, requestId?: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${pub}/v1/chat`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      ...(requestId ? { 'x-request-id': requestId } : {}),
    },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(60_000),
  });
}

describe('log lines on stdout', () => {
  let upstream: FakeOpenAI;
  before(async () => {
    upstream = await startFakeOpenAI();
  });
  after(async () => {
    await upstream?.close();
  });
  const env = () => ({ ADMIN_PW: ADMIN, GW_TOKEN: TOKEN, UPSTREAM_KEY: upstream.apiKey, LOG_LEVEL: 'info' });

  it('a crash right after logging still leaves every line, whole and scrubbed (the exit hooks)', async () => {
    const { stdout, code } = await runChild('crash');
    assert.equal(code, 1, 'the uncaught exception ended the process');
    const lines = parseLines(stdout);
    assert.equal(lines.filter((l) => l.msg === 'request').length, 20);
    assert.equal(lines.at(-1)!.last, true, 'the last line logged is there');
    assert.ok(!stdout.includes(CHILD_SECRET), 'the scrubber ran on every line');
    assert.match(stdout, /\[REDACTED\]/);
  });

  it('Logging.flush() resolves only once the lines are written (a SIGKILL right after loses none)', async () => {
    const { stdout, signal } = await runChild('flush-then-kill');
    assert.equal(signal, 'SIGKILL', 'no exit hook ran');
    const lines = parseLines(stdout);
    assert.equal(lines.filter((l) => l.msg === 'request').length, 2000);
    assert.equal(lines.at(-1)!.last, true);
  });

  it("on SIGTERM the last request's line is written before the process exits", async () => {
    const pub = await freePort();
    const mgmt = await freePort();
    const path = join(dir, 'sigterm.toml');
    writeFileSync(path, serveToml(upstream.url, pub, mgmt, 'stdout-logs'));
    const proc = startServe(path, { ...env(), SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5' });
    try {
      await expectServing(pub, mgmt, TOKEN);
      const r = await chat(pub, 'last-before-sigterm');
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0);
      const lines = parseLines(proc.stdout());
      const line = lines.find((l) => l.msg === 'request' && l.reqId === 'last-before-sigterm');
      assert.ok(line, 'the request line is in the output');
      assert.equal(line.status, 200);
      assert.equal(lines.at(-1)!.msg, 'stopped', 'and everything logged after it');
      assert.ok(!proc.stdout().includes(TOKEN) && !proc.stdout().includes(upstream.apiKey));
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it(
    'with stdout blocked the gateway keeps answering; lines beyond the buffer bound are dropped and counted',
    { timeout: 180_000 },
    async () => {
      const pub = await freePort();
      const mgmt = await freePort();
      const path = join(dir, 'blocked.toml');
      writeFileSync(path, serveToml(upstream.url, pub, mgmt, 'stdout-logs'));
      // stdout is a pipe this test does not read until the end: once the pipe is full, no write completes.
      const child = spawn(process.execPath, [...NODE_ARGS, CLI, 'serve', '--config', path], {
        env: { PATH: process.env.PATH ?? '', ...env(), SIPP_GATEWAY_LOG_BUFFER_BYTES: String(64 * 1024) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stderr!.resume();
      child.stdout!.pause();
      try {
        await expectServing(pub, mgmt, TOKEN);
        // About 400 bytes a line: far more than the pipe, the reader's buffer and the 64 KiB bound hold together.
        const total = 3000;
        let next = 0;
        const worker = async () => {
          while (next < total) {
            next++;
            const r = await chat(pub);
            assert.equal(r.status, 200);
            await r.arrayBuffer();
          }
        };
        await Promise.all(Array.from({ length: 10 }, worker));
        // Now read stdout: the blocked write completes, the drop count is reported (once the buffered lines before
        // it are out, so the buffer has room again), and later lines flow again.
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        child.stdout!.resume();
        await until(() => out.includes('"dropped":'), 'the drop count', 60_000);
        const r = await chat(pub, 'after-unblocked');
        assert.equal(r.status, 200);
        await r.arrayBuffer();
        await until(() => out.includes('"reqId":"after-unblocked"'), 'the line of the request after stdout unblocked', 60_000);
        const lines = parseLines(out.slice(0, out.lastIndexOf('\n') + 1));
        const drops = lines.filter((l) => l.level === 'warn' && typeof l.dropped === 'number');
        const dropped = drops.reduce((n, l) => n + (l.dropped as number), 0);
        const requests = lines.filter((l) => l.msg === 'request').length;
        assert.ok(dropped > 0, 'lines were dropped, not held without bound');
        // expectServing's request, the blocked ones and the last: each either written or counted as dropped
        // (a drop warning can itself be dropped, and is then counted by the next).
        const expected = 1 + total + 1;
        assert.ok(requests + dropped >= expected && requests + dropped <= expected + drops.length, `${requests} + ${dropped}`);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});
