/**
 * Spend-only settlements, summed and sent together (docs/budgets.md#in-a-fleet).
 * Spend is counted for every key and caller and period, budget or not; a
 * settlement that releases no reservation, takes no tpm and reports no
 * threshold needs no answer, so the Redis ledger adds it here instead of
 * running its script once per request: settlements of the same counters
 * within `everyMs` become one script call with their sum. Other replicas see
 * that spend at most `everyMs` later; this replica's own reads wait for it.
 */
import type { SettleInput } from './ledger.js';

/** How long spend-only settlements are summed before they are sent. */
export const SPEND_BATCH_MS = 50;

interface Group {
  scopes: SettleInput['scopes'];
  nano: number;
  tokens: number;
}

export class SpendBatch {
  private groups = new Map<string, Group>();
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<unknown> = Promise.resolve();

  /** `send` settles one summed input (and handles its own failures). */
  constructor(
    private readonly send: (input: SettleInput) => Promise<unknown>,
    private readonly everyMs = SPEND_BATCH_MS,
  ) {}

  /** Whether `input` only adds spend (nothing held, no tpm bucket, no threshold to report). */
  static spendOnly(input: SettleInput): boolean {
    if (input.rate?.tpm || input.lease !== undefined) return false;
    for (const s of input.scopes) if (s.held || s.thresholdNano >= 0 || s.thresholdTokens >= 0) return false;
    return true;
  }

  add(input: SettleInput): void {
    if (input.actual.nano === 0 && input.actual.tokens === 0) return;
    let id = '';
    for (const s of input.scopes) id += `${s.key}\n`;
    const g = this.groups.get(id);
    if (g) {
      g.nano += input.actual.nano;
      g.tokens += input.actual.tokens;
    } else {
      this.groups.set(id, { scopes: input.scopes, nano: input.actual.nano, tokens: input.actual.tokens });
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.everyMs);
      this.timer.unref();
    }
  }

  /** Sends what is summed so far; resolves when it and every earlier send have settled. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.groups.size > 0) {
      const groups = [...this.groups.values()];
      this.groups = new Map();
      const zero = { nano: 0, tokens: 0 };
      const sent = Promise.all(
        groups.map((g) =>
          this.send({ rate: null, scopes: g.scopes, reserved: zero, actual: { nano: g.nano, tokens: g.tokens } }),
        ),
      );
      this.sending = Promise.all([this.sending, sent]);
    }
    return this.sending.then(
      () => {},
      () => {},
    );
  }
}
