/**
 * pino JSON logs on stdout. The level comes from LOG_LEVEL, or from RUST_LOG in
 * its directive form ("info", "debug,sipp_gateway_server=trace",
 * "warn,sipp_gateway_server::public=debug") so existing deployments keep
 * working: a default level plus per-component levels matched by prefix.
 * Every line passes through a scrubber that replaces configured secret values
 * (each at least MIN_SECRET_LENGTH long, so what it blanks out never reveals one).
 *
 * stdout is written asynchronously (docs/operations.md#how-lines-reach-stdout): the
 * lines of BATCH_MS leave in one write, off the event loop, so no write
 * syscall sits on a request's path; at most `SIPP_GATEWAY_LOG_BUFFER_BYTES` wait
 * while stdout is slow or blocked, the lines beyond are dropped and counted,
 * and shutdown waits for what is buffered (`Logging.flush`).
 */
import { writeSync } from 'node:fs';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { MIN_SECRET_LENGTH } from '../config/secret-policy.js';
import { StartupError } from '../errors.js';

export type LevelName = Level | 'silent';

const RUST_TO_PINO: Record<string, LevelName> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  off: 'silent',
  silent: 'silent',
};

const ORDER: LevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LevelPlan {
  defaultLevel: LevelName;
  /** Component prefix → level, longest prefix wins. */
  components: Array<[string, LevelName]>;
}

/** Parses a RUST_LOG / LOG_LEVEL value. Unknown words are ignored (default stays). */
export function parseLevelDirectives(value: string | undefined, fallback: LevelName = 'info'): LevelPlan {
  const plan: LevelPlan = { defaultLevel: fallback, components: [] };
  if (!value) return plan;
  for (const raw of value.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq === -1) {
      const level = RUST_TO_PINO[part.toLowerCase()];
      if (level) plan.defaultLevel = level;
      continue;
    }
    const target = part.slice(0, eq).trim();
    const level =
      RUST_TO_PINO[
        part
          .slice(eq + 1)
          .trim()
          .toLowerCase()
      ];
    if (target && level) plan.components.push([target, level]);
  }
  plan.components.sort((a, b) => b[0].length - a[0].length);
  return plan;
}

export function levelFor(plan: LevelPlan, component: string): LevelName {
  for (const [prefix, level] of plan.components) {
    if (component === prefix || component.startsWith(`${prefix}::`)) return level;
  }
  return plan.defaultLevel;
}

export function planFromEnv(env: NodeJS.ProcessEnv): LevelPlan {
  if (env.LOG_LEVEL) return parseLevelDirectives(env.LOG_LEVEL);
  return parseLevelDirectives(env.RUST_LOG);
}

export interface Logging {
  root: Logger;
  /** A child logger for a component such as "sipp_gateway_server::public". */
  component(name: string): Logger;
  /** Registers secret values that must never reach the output (adds to those already registered). */
  addSecrets(values: readonly string[]): void;
  /** Resolves once every line logged so far has been written (shutdown awaits it before the process exits). */
  flush(): Promise<void>;
}

const REDACTED = '[REDACTED]';

/** Default bound on the log text held while stdout is slow or blocked (docs/operations.md#how-lines-reach-stdout). */
/** The message of the line that reports dropped lines, and that line's count as pino writes it. */
const DROPS_MSG = 'stdout was slow or blocked; log lines beyond SIPP_GATEWAY_LOG_BUFFER_BYTES were dropped';
const DROPS_REPORTED = new RegExp(`"dropped":(\\d+),"msg":"${DROPS_MSG}"`, 'g');

/**
 * The log lines a dropped chunk of stdout stood for: its lines, plus the counts of any drop
 * reports among them, so a report of drops dropped in turn passes its count on to the next
 * report rather than losing it. (A report's pattern cannot come from a logged value: pino
 * escapes the quotes in values.)
 */
export function droppedIn(data: string): number {
  let n = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) n++;
  if (data.includes(DROPS_MSG)) for (const m of data.matchAll(DROPS_REPORTED)) n += Number(m[1]);
  return n;
}

export const DEFAULT_LOG_BUFFER_BYTES = 8 * 1024 * 1024;
/** Below this a bound would drop lines on an ordinary burst. */
const MIN_LOG_BUFFER_BYTES = 64 * 1024;

/** SIPP_GATEWAY_LOG_BUFFER_BYTES, or the default; a value that is not a whole number >= 64 KiB is refused. */
export function logBufferBytes(env: NodeJS.ProcessEnv): number {
  const raw = env.SIPP_GATEWAY_LOG_BUFFER_BYTES;
  if (raw === undefined || raw.trim() === '') return DEFAULT_LOG_BUFFER_BYTES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < MIN_LOG_BUFFER_BYTES)
    throw new StartupError(`SIPP_GATEWAY_LOG_BUFFER_BYTES must be a whole number of bytes >= ${MIN_LOG_BUFFER_BYTES}`);
  return n;
}

/**
 * pino's isoTime, computed once per millisecond: a busy gateway writes many
 * lines within one, and formatting a Date is a large part of a line's cost.
 */
function cachedIsoTime(): () => string {
  let at = -1;
  let text = '';
  return () => {
    const now = Date.now();
    if (now !== at) {
      at = now;
      text = `,"time":"${new Date(now).toISOString()}"`;
    }
    return text;
  };
}

/** Writes to stdout at once; a stdout that is gone or full loses the text (only used when the process ends). */
function writeSyncQuietly(text: string): void {
  try {
    writeSync(1, text);
  } catch {
    // Nothing is left to do with the text.
  }
}

/** How long a line may wait for others to join it in one write (a busy gateway writes many per write). */
const BATCH_MS = 10;
/**
 * A chunk this long is handed over at once, not after BATCH_MS: sonic-boom's
 * largest single write, and well under the smallest buffer bound, so a burst
 * never drops a chunk that an idle stdout would have taken.
 */
const HAND_OVER_CHARS = 16 * 1024;

/**
 * stdout as an asynchronous pino destination, bounded. The lines of one
 * moment (BATCH_MS) are joined and handed to sonic-boom together (one write for many
 * requests); sonic-boom writes off the event loop and joins what arrives while
 * a write is under way. Lines that would take the buffered text past
 * `maxBytes` are dropped (whole lines, never part of one) and counted; the
 * count is logged as a warning once stdout takes writes again. On process exit
 * pino writes what sonic-boom holds synchronously, and the exit hook below what
 * was not handed over yet.
 */
function stdoutDestination(maxBytes: number, onDropsReported: (dropped: number) => void) {
  const sonic = pino.destination({ dest: 1, sync: false, maxLength: maxBytes });
  let chunk = '';
  let timer: NodeJS.Timeout | null = null;
  let dropped = 0;
  /** Lines were handed over since the last time everything was written. */
  let pending = false;
  /** stdout failed (EPIPE: nobody reads it any more): nothing more will be written, so nothing is waited for. */
  let failed = false;
  let waiters: Array<() => void> = [];
  /** sonic-boom was ended (pino does so when the event loop empties): it takes no more writes. */
  let ended = false;
  const handOver = () => {
    timer = null;
    if (chunk === '') return;
    const c = chunk;
    chunk = '';
    // pino ends the destination when the event loop empties (beforeExit); a line logged after that is written here.
    if (ended) return void writeSyncQuietly(c);
    pending = true;
    sonic.write(c);
  };
  const settle = () => {
    pending = false;
    const w = waiters;
    waiters = [];
    for (const done of w) done();
  };
  sonic.on('drop', (data: string) => {
    dropped += droppedIn(data);
  });
  sonic.on('write', () => {
    if (dropped === 0) return;
    const n = dropped;
    dropped = 0;
    onDropsReported(n);
  });
  sonic.on('close', () => {
    ended = true;
    settle();
  });
  // In asynchronous mode sonic-boom emits 'drain' when a write completes and nothing is left buffered.
  sonic.on('drain', () => {
    if (chunk === '') settle();
  });
  // pino's destination handles EPIPE itself; this listener also keeps any other write error from becoming uncaught.
  sonic.on('error', () => {
    failed = true;
    settle();
  });
  // Registered after pino's own exit flush (pino.destination above), so these lines follow the ones it writes.
  process.on('exit', () => {
    if (chunk !== '' && !failed) writeSyncQuietly(chunk);
  });
  return {
    write(line: string) {
      chunk += line;
      if (chunk.length >= HAND_OVER_CHARS) {
        if (timer !== null) clearTimeout(timer);
        handOver();
      } else if (timer === null) timer = setTimeout(handOver, BATCH_MS);
    },
    flush(): Promise<void> {
      if (timer !== null) {
        clearTimeout(timer);
        handOver();
      }
      return pending && !failed ? new Promise<void>((done) => waiters.push(done)) : Promise.resolve();
    },
  };
}

export interface LoggingOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces stdout (tests); `flush` then resolves at once. */
  destination?: DestinationStream;
  /**
   * Test hook: receives every line before the secret scrubber runs, so tests
   * can assert that no code path logs a secret in the first place (the
   * scrubber is a second line of defence, not the only one).
   */
  rawTap?: (line: string) => void;
}

export function createLogging(options: LoggingOptions = {}): Logging {
  const env = options.env ?? process.env;
  const plan = planFromEnv(env);
  const levels = [plan.defaultLevel, ...plan.components.map(([, l]) => l)];
  const lowest = ORDER[Math.min(...levels.map((l) => ORDER.indexOf(l)))]!;
  let secrets: string[] = [];
  let reportDrops = (_dropped: number): void => {};
  const stdout = options.destination ? null : stdoutDestination(logBufferBytes(env), (n) => reportDrops(n));
  const root = pino(
    {
      level: lowest,
      base: { service: 'sipp-gateway' },
      timestamp: cachedIsoTime(),
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'password', 'token', 'apiKey', 'api_key'],
        censor: REDACTED,
      },
      hooks: {
        streamWrite(line) {
          options.rawTap?.(line);
          if (secrets.length === 0) return line;
          let out = line;
          for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
          return out;
        },
      },
    },
    options.destination ?? stdout!,
  );
  reportDrops = (dropped) => root.warn({ dropped }, DROPS_MSG);
  return {
    root,
    component(name) {
      return root.child({ component: name }, { level: levelFor(plan, name) });
    },
    addSecrets(values) {
      // A short value would reveal itself by what it blanks out (`sipp_gateway_server::[REDACTED]`
      // for the password `admin`); `serve` refuses such secrets, and this refuses to pretend to hide one.
      const short = values.find((v) => v && v.length < MIN_SECRET_LENGTH);
      if (short !== undefined)
        throw new Error(
          `refusing to redact a secret shorter than ${MIN_SECRET_LENGTH} characters (docs/configuration.md#secrets)`,
        );
      // Also scrub JSON-escaped forms, since lines are JSON text.
      const all = new Set<string>(secrets);
      for (const v of values) {
        if (!v) continue;
        all.add(v);
        all.add(JSON.stringify(v).slice(1, -1));
      }
      secrets = [...all].sort((a, b) => b.length - a.length);
    },
    flush: () => stdout?.flush() ?? Promise.resolve(),
  };
}
