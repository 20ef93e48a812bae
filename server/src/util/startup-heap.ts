/**
 * V8's young generation during start-up (docs/operations.md#memory).
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
 * Imported first by cli.ts, for its side effect, so it runs before the rest of
 * the CLI's modules load. An operator who sets the flag (node options or
 * NODE_OPTIONS) keeps their value: nothing is changed then.
 */
import { setFlagsFromString } from 'node:v8';

const FLAG = 'semi-space-growth-factor';
/** V8's default (its `--v8-options`). */
const DEFAULT_GROWTH = 2;

const setByOperator = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some(
  (a) => a.includes(FLAG) || a.includes(FLAG.replaceAll('-', '_')),
);
let held = !setByOperator;
if (held) setFlagsFromString(`--${FLAG}=1`);

/** Start-up is over: the young generation may grow again. Idempotent. */
export function startupDone(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--${FLAG}=${DEFAULT_GROWTH}`);
}
