/**
 * Per-client aggregates keyed by normalized client IP. The map is bounded and
 * kept in least-recently-seen order (delete + set moves an entry to the end),
 * so evicting the stalest client is O(1).
 */
import type { ClientView, RequestRecord } from '@sipp/shared';

/** A client's running totals; the API adds whether it is blocked. */
export type ClientAggregate = Omit<ClientView, 'blocked'>;

export class ClientStats {
  private readonly clients = new Map<string, ClientAggregate>();
  constructor(private readonly maxClients = 10_000) {}

  record(r: RequestRecord): void {
    let c = this.clients.get(r.client);
    if (c) {
      this.clients.delete(r.client);
    } else {
      if (this.clients.size >= this.maxClients) {
        const oldest = this.clients.keys().next();
        if (!oldest.done) this.clients.delete(oldest.value);
      }
      c = {
        client: r.client,
        caller: null,
        requests: 0,
        errors: 0,
        rateLimitHits: 0,
        blocklistHits: 0,
        inputTokens: 0,
        outputTokens: 0,
        lastSeen: 0,
      };
    }
    this.clients.set(r.client, c);
    c.requests++;
    if (r.status >= 400) c.errors++;
    if (r.code === 'rate_limited') c.rateLimitHits++;
    else if (r.code === 'blocked') c.blocklistHits++;
    if (r.caller !== null) c.caller = r.caller;
    c.inputTokens += r.inputTokens;
    c.outputTokens += r.outputTokens;
    if (r.time > c.lastSeen) c.lastSeen = r.time;
  }

  get size(): number {
    return this.clients.size;
  }

  /** The `n` busiest clients (most requests; most recent first on ties). */
  top(n: number): ClientAggregate[] {
    return [...this.clients.values()]
      .sort((a, b) => b.requests - a.requests || b.lastSeen - a.lastSeen)
      .slice(0, n)
      .map((c) => ({ ...c }));
  }
}
