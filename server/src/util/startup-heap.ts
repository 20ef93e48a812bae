/**
 * V8's young generation and optimizing compiler during start-up
 * (docs/operations.md#memory).
 *
 * Loading the gateway's modules and its configuration allocates objects that
 * all live on; V8 reads their survival as a sign that the young generation is
 * too small and doubles it at each such collection, so a gateway that has
 * served nothing held ~16 MB of young generation (most of it empty) until V8's
 * memory reducer ran, long after start. While the CLI starts, the growth
 * factor is 1 (the young generation keeps its initial size; the survivors move
 * to the old generation, where they belong); once the gateway is up it is back
 * at V8's default, so under traffic the young generation grows exactly as
 * before. The cap is never changed (`--max-semi-space-size` was measured to cost
 * CPU per request, README.md#benchmarks).
 *
 * Start-up code is also hot for a moment (loops over module tables, schema
 * construction, configuration checks), long enough for V8 to optimize some of
 * it with TurboFan, code that never runs again: the compiler's own machine code
 * paged in from the node binary, its zone memory and the optimized code cost
 * ~6 MB of an idle gateway's RSS. So TurboFan is off (`--no-turbofan`) until the
 * gateway listens (`listening()`), then on again: the request path is
 * optimized under traffic exactly as before, only start-up code runs in V8's
 * interpreter and baseline compiler.
 *
 * Imported first by cli.ts, for its side effect, so it runs before the rest of
 * the CLI's modules load. An operator who sets either flag (node options or
 * NODE_OPTIONS) keeps their value: that one is not changed then.
 */
import { setFlagsFromString } from 'node:v8';

const GROWTH = 'semi-space-growth-factor';
/** V8's default (its `--v8-options`). */
const DEFAULT_GROWTH = 2;

const operatorFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].map((a) => a.replaceAll('_', '-'));
const setByOperator = (pattern: RegExp) => operatorFlags.some((a) => pattern.test(a));

let youngHeld = !setByOperator(new RegExp(GROWTH));
if (youngHeld) setFlagsFromString(`--${GROWTH}=1`);

// `--opt` is V8's alias of `--turbofan`; lite mode and jitless turn it off for good.
let compilerHeld = !setByOperator(/--(no-)?(turbofan|opt|lite-mode|jitless)\b/);
if (compilerHeld) setFlagsFromString('--no-turbofan');

/** The gateway listens: TurboFan is on again (V8's default). Idempotent. */
export function listening(): void {
  if (!compilerHeld) return;
  compilerHeld = false;
  setFlagsFromString('--turbofan');
}

/** Start-up is over (targets loaded or failed): the young generation may grow again; TurboFan is on. Idempotent. */
export function startupDone(): void {
  listening();
  if (!youngHeld) return;
  youngHeld = false;
  setFlagsFromString(`--${GROWTH}=${DEFAULT_GROWTH}`);
}
