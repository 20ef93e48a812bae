/**
 * pino JSON logs on stdout. The level comes from LOG_LEVEL, or from RUST_LOG in
 * its directive form ("info", "debug,sipp_gateway_server=trace",
 * "warn,sipp_gateway_server::public=debug") so existing deployments keep
 * working: a default level plus per-component levels matched by prefix.
 * Every line passes through a scrubber that replaces configured secret values
 * (each at least MIN_SECRET_LENGTH long, so what it blanks out never reveals one).
 */
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { MIN_SECRET_LENGTH } from '../config/secret-policy.js';

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
}

const REDACTED = '[REDACTED]';

export interface LoggingOptions {
  env?: NodeJS.ProcessEnv;
  destination?: DestinationStream;
  /**
   * Test hook: receives every line before the secret scrubber runs, so tests
   * can assert that no code path logs a secret in the first place (the
   * scrubber is a second line of defence, not the only one).
   */
  rawTap?: (line: string) => void;
}

export function createLogging(options: LoggingOptions = {}): Logging {
  const plan = planFromEnv(options.env ?? process.env);
  const levels = [plan.defaultLevel, ...plan.components.map(([, l]) => l)];
  const lowest = ORDER[Math.min(...levels.map((l) => ORDER.indexOf(l)))]!;
  let secrets: string[] = [];
  const root = pino(
    {
      level: lowest,
      base: { service: 'sipp-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
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
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
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
  };
}
