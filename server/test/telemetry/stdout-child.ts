/**
 * A process that logs to the real stdout destination (telemetry/logger.ts),
 * then ends the way argv[2] says; stdout-logs.test.ts reads what reached its
 * stdout. `crash`: an uncaught exception right after logging (the exit hooks
 * write what is buffered). `flush-then-kill`: awaits Logging.flush(), then
 * SIGKILLs itself (no exit hook runs: only what flush waited for is there).
 */
import { createLogging } from '../../src/telemetry/logger.js';
import { logRequest } from '../../src/public/request-state.js';
import type { RequestRecord } from '@sipp/shared';

const CHILD_SECRET = 'child-secret-value-0123456789';

/**
 * `flush-then-kill`: about 800 KB, many times a pipe's buffer, so no write of them all can finish in the
 * moment before a SIGKILL. `crash`: fewer than one hand-over (16 KiB) holds, so they all wait for the exit hook (a
 * write under way when a process crashes may be cut, docs/operations.md#how-lines-reach-stdout).
 */
const LINES = process.argv[2] === 'crash' ? 20 : 2000;

const logging = createLogging({ env: { LOG_LEVEL: 'info' } });
logging.addSecrets([CHILD_SECRET]);
const log = logging.component('sipp_gateway_server::public');
const record: RequestRecord = {
  requestId: 'req-child-1',
  time: Date.now(),
  api: 'openai',
  operation: 'chat',
  model: 'm',
  target: 'chat',
  group: null,
  attempts: [],
  upstreamStatus: 200,
  reason: null,
  caller: CHILD_SECRET,
  client: '127.0.0.1',
  status: 200,
  code: null,
  durationMs: 1.5,
  ttftMs: null,
  inputTokens: 3,
  outputTokens: 2,
  stream: false,
  ignored: [],
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};
for (let i = 0; i < LINES; i++) logRequest({ ...record, requestId: `req-child-${i}` }, log);
log.info({ last: true }, `last line mentions ${CHILD_SECRET}`);

if (process.argv[2] === 'crash') throw new Error('crash after logging');
await logging.flush();
process.kill(process.pid, 'SIGKILL');
