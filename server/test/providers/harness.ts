/** Shared helpers for the provider target tests: deps with a captured log, call contexts, assertions. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { GatewayError, type UpstreamDetail } from '../../src/errors.js';
import type { CallContext, StreamChunk, TargetDeps } from '../../src/targets/target.js';
import type { ErrorCode } from '@sipp/shared';

export interface CapturedDeps extends TargetDeps {
  /** Every log line written through deps.log or a context's log. */
  lines: string[];
  /** Env names the target asked for. */
  asked: string[];
}

export function makeDeps(secrets: Record<string, string>): CapturedDeps {
  const lines: string[] = [];
  const asked: string[] = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  return {
    lines,
    asked,
    log,
    registry: new Registry(),
    secret(name) {
      asked.push(name);
      const v = secrets[name];
      if (v === undefined) throw new Error(`test secret ${name} missing`);
      return v;
    },
  };
}

export function makeCtx(
  deps: CapturedDeps,
  signal: AbortSignal = new AbortController().signal,
  requestId = 'req-test-1',
): CallContext {
  return { requestId, signal, log: deps.log.child({ requestId }) };
}

export async function collect(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

/** Iterates a stream, recording the tokens seen before it failed; returns them with the error. */
export async function collectUntilError(stream: AsyncIterable<StreamChunk>): Promise<{ chunks: StreamChunk[]; error: unknown }> {
  const chunks: StreamChunk[] = [];
  try {
    for await (const c of stream) chunks.push(c);
  } catch (error) {
    return { chunks, error };
  }
  assert.fail('stream completed, expected it to fail');
}

/** Asserts a GatewayError with this code (and message, when given) that leaks none of `secrets`. */
export function assertGatewayError(
  err: unknown,
  code: ErrorCode,
  message?: string | RegExp,
  secrets: string[] = [],
): GatewayError {
  assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
  assert.equal(err.code, code, `code (message: ${err.message})`);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message) assert.match(err.message, message);
  const headers = JSON.stringify(err.headers ?? {});
  for (const s of secrets)
    assert.ok(!err.message.includes(s) && !String(err.stack).includes(s) && !headers.includes(s), 'error leaks a secret');
  return err;
}

/** Asserts a GatewayError (as assertGatewayError) and its UpstreamDetail, exactly. */
export function assertUpstreamError(
  err: unknown,
  code: ErrorCode,
  message: string | RegExp | undefined,
  upstream: UpstreamDetail,
  secrets: string[] = [],
): GatewayError {
  const e = assertGatewayError(err, code, message, secrets);
  assert.deepEqual(e.upstream, upstream, `upstream detail (message: ${e.message})`);
  return e;
}

/** The message of a provider's non-2xx status other than 429. */
export function statusMessage(status: number): string {
  return status < 500 ? `upstream rejected the request (HTTP ${status})` : `upstream failed (HTTP ${status})`;
}

/**
 * `it`, then a scan of the test's own log lines for `secrets` inside the test,
 * so a leak fails the test that caused it. `deps()` must be replaced for each
 * test (beforeEach), so its lines are that test's lines only.
 */
export function itScanningLogs(deps: () => CapturedDeps, secrets: () => readonly string[]) {
  return (name: string, fn: () => unknown): void => {
    it(name, async () => {
      await fn();
      assertNoSecretIn(deps().lines, [...secrets()]);
    });
  };
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

export function assertNoSecretIn(lines: string[], secrets: string[]): void {
  const all = lines.join('\n');
  for (const s of secrets) assert.ok(!all.includes(s), 'a log line leaks a secret');
}

export const tokensOf = (chunks: StreamChunk[]): string[] => chunks.flatMap((c) => (c.type === 'token' ? [c.text] : []));

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
