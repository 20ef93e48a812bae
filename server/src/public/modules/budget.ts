/**
 * The budget module (docs/budgets.md): after route resolution and admission,
 * reserves the request's worst-case cost against its key's and caller's
 * budgets and takes its key's rpm / tpm (429 `budget_exceeded` or
 * `rate_limited`); when the request is over, prices the record (cost, cache
 * tokens, key) before the observers see it, and settles the real cost.
 * Registered before the observers (modules/index.ts) so that metrics, the
 * dashboard and the usage rows read the priced record.
 */
import { GatewayError } from '../../errors.js';
import type { AdmitDecision, BudgetService, Reservation, Who } from '../../budgets/service.js';
import { usdOf } from '../../budgets/pricing.js';
import type { Caller } from '../../security/bearer.js';
import { CHARS_PER_TOKEN } from '../count-tokens.js';
import { slot, type RunContext } from '../request-context.js';
import type { PipelineModule } from '../stages.js';

const RESERVATION = slot<Reservation>('budget');
/** The request's input upper bound in tokens (its body's UTF-8 bytes), kept for an aborted stream's estimate. */
const INPUT_BYTES = slot<number>('budget_input_bytes');

/** The budget-accounting id of a caller: its managed key, or `config:<caller>` for a config token. */
export function whoOf(caller: Caller): Who {
  return { keyId: caller.keyId ?? `config:${caller.label}`, caller: caller.label, limits: caller.limits };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/**
 * The most output the request may generate: its own limit, else
 * `default_max_tokens`, which is then sent as its limit (translated calls and
 * Responses pass-through; a pass-through Chat Completions body is left as sent).
 */
function outputLimit(rc: RunContext, fallback: number): number {
  const { request } = rc;
  const call = request.call;
  if (call.operation === 'embed') return 0;
  const pt = request.passthrough;
  const body = pt?.body;
  const asked = body
    ? (num(body.max_completion_tokens) ?? num(body.max_tokens) ?? num(body.max_output_tokens))
    : call.text.options.maxTokens;
  if (asked !== undefined) return asked;
  if (!pt?.parseError) call.text.options.maxTokens = fallback;
  // Sent as changed, no longer as the client's bytes (surfaces/passthrough.ts).
  if (pt && pt.api === 'openai_responses') pt.setMember('max_output_tokens', fallback);
  return fallback;
}

/** The body's UTF-8 bytes: the client's own while a pass-through keeps them (no serialization per request), else the parsed body's. */
function inputBytes(rc: RunContext): number {
  const r = rc.request;
  const raw = r.passthrough?.raw;
  if (raw) return raw.length;
  return Buffer.byteLength(JSON.stringify(r.passthrough?.body ?? r.call));
}

/** Holds the reservation on the request, or refuses it (429 `budget_exceeded` / `rate_limited`). */
function admitted(rc: RunContext, d: AdmitDecision): void {
  if (!d.ok) {
    const headers = d.retryAfterSeconds !== null ? { 'retry-after': String(d.retryAfterSeconds) } : undefined;
    throw new GatewayError(d.code, d.message, headers);
  }
  rc.set(RESERVATION, d.reservation);
}

export function budgetModule(budgets: BudgetService, defaultMaxTokens: number): PipelineModule {
  return {
    name: 'budget',
    beforeRun(rc) {
      const caller = rc.caller;
      if (!caller) return;
      const who = whoOf(caller);
      if (!budgets.limited(who)) return;
      // Worst case: the dearest member; every input token at the dearer of the input and cache-write prices.
      let input = 0;
      let output = 0;
      for (const m of rc.route?.members ?? []) {
        const p = budgets.pricingOf(m.name);
        if (!p) continue;
        input = Math.max(input, p.input, p.cacheWrite);
        output = Math.max(output, p.output);
      }
      const maxOut = outputLimit(rc, defaultMaxTokens);
      // A token covers at least one byte of text, so the body's bytes bound its input tokens whatever the tokenizer.
      const bytes = inputBytes(rc);
      rc.set(INPUT_BYTES, bytes);
      const d = budgets.admit(who, { nano: Math.ceil(bytes * input + maxOut * output), tokens: bytes + maxOut });
      // The memory ledger answers at once: nothing to await on the request path.
      if (d instanceof Promise) return d.then((x) => admitted(rc, x));
      admitted(rc, d);
    },
    afterFinish(record, rc) {
      // Only inference costs: listing, stored-response and count_tokens routes parse no request here.
      if (!rc.request) return;
      const st = rc.state;
      // A stream cut short (client gone, failure) or that never reported usage costs what was generated: the output
      // the client saw, and its input (reported, else estimated).
      // (The record may already hold the streamed output: a cut stream keeps it, docs/dashboard.md#reasons.)
      const cut = record.code !== null || record.outputTokens === 0;
      if (st.streamedTokens > 0 && st.streamedTokens >= record.outputTokens && cut) {
        record.outputTokens = st.streamedTokens;
        if (record.inputTokens === 0) {
          const bytes = rc.get(INPUT_BYTES) ?? inputBytes(rc as RunContext);
          record.inputTokens = Math.ceil(bytes / CHARS_PER_TOKEN);
        }
      }
      const tokens = record.inputTokens + record.outputTokens;
      const nano = budgets.cost(record.target, {
        input: record.inputTokens,
        output: record.outputTokens,
        cacheRead: record.cacheReadTokens ?? 0,
        cacheWrite: record.cacheWriteTokens ?? 0,
      });
      record.costUsd = usdOf(nano);
      const caller = rc.caller;
      if (caller?.keyId && record.keyId == null) record.keyId = caller.keyId;
      const reservation = rc.get(RESERVATION) ?? null;
      if (!caller || (!reservation && nano === 0 && tokens === 0)) return;
      return budgets.settle(whoOf(caller), reservation, record.target, nano, tokens);
    },
  };
}
