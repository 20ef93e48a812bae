/**
 * Runtime controls. Each one changes the very objects the public pipeline
 * consults on every request, so a change applies to the next public request
 * here; then the [state] store keeps it (file or Redis) and, with Redis,
 * every other replica applies it within a second. Every change is recorded
 * in the audit log with its before/after values and who made it.
 */
import { BlocklistAddSchema, ConcurrencyUpdateSchema, RateLimitUpdateSchema } from '@sipp/shared';
import type { z } from 'zod';
import { normalizeEntry } from '../security/blocklist.js';
import type { AuditLog } from './audit-log.js';
import type { AdminDeps } from './deps.js';
import { AdminError } from '../errors.js';

/** Who made a change: the session's short id and the management client's address. */
export interface Actor {
  session: string | null;
  client: string;
}

function invalid(error: z.ZodError): AdminError {
  const issue = error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : 'body';
  const message =
    issue?.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : (issue?.message ?? 'invalid');
  return new AdminError('invalid_request', `${field}: ${message}`);
}

function entryParam(raw: string): string {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw new AdminError('invalid_request', 'entry: not a valid IP address or CIDR');
  }
  const entry = normalizeEntry(text);
  if (entry === null) throw new AdminError('invalid_request', 'entry: not a valid IP address or CIDR');
  return entry;
}

export function createControls(deps: Pick<AdminDeps, 'controls' | 'state'>, audit: AuditLog) {
  return {
    async setRateLimit(actor: Actor, body: unknown): Promise<void> {
      const parsed = RateLimitUpdateSchema.safeParse(body);
      if (!parsed.success) throw invalid(parsed.error);
      const before = deps.controls.rateLimiter.settings();
      deps.controls.rateLimiter.configure(parsed.data);
      audit.record({ action: 'rate_limit.set', before, after: deps.controls.rateLimiter.settings(), ...actor });
      await deps.state.changed({ kind: 'rate_limit', settings: deps.controls.rateLimiter.settings() });
    },

    async setConcurrency(actor: Actor, body: unknown): Promise<void> {
      const parsed = ConcurrencyUpdateSchema.safeParse(body);
      if (!parsed.success) throw invalid(parsed.error);
      const before = { limit: deps.controls.admission.limit };
      deps.controls.admission.setLimit(parsed.data.limit);
      audit.record({ action: 'concurrency.set', before, after: { limit: deps.controls.admission.limit }, ...actor });
      await deps.state.changed({ kind: 'concurrency', limit: parsed.data.limit });
    },

    /** `POST security/blocklist {entry, expires_in_seconds?, note?}`; the legacy path form passes `{entry}`. */
    async block(actor: Actor, body: unknown): Promise<string> {
      const parsed = BlocklistAddSchema.safeParse(body);
      if (!parsed.success) throw invalid(parsed.error);
      const canonical = normalizeEntry(parsed.data.entry);
      if (canonical === null) throw new AdminError('invalid_request', 'entry: not a valid IP address or CIDR');
      const before = deps.controls.blocklist.get(canonical);
      const note = parsed.data.note?.trim();
      const added = deps.controls.blocklist.add(canonical, {
        expiresInSeconds: parsed.data.expires_in_seconds,
        note: note ? note : undefined,
      })!;
      audit.record({ action: 'blocklist.add', before, after: added, ...actor });
      // The shared store keys entries by `ip`, which holds the canonical address or CIDR.
      await deps.state.changed({
        kind: 'block',
        entry: { ip: added.entry, addedAt: added.addedAt, expiresAt: added.expiresAt, note: added.note },
      });
      return added.entry;
    },

    blockPath(actor: Actor, raw: string): Promise<string> {
      return this.block(actor, { entry: entryParam(raw) });
    },

    async unblock(actor: Actor, raw: string): Promise<string> {
      const removed = deps.controls.blocklist.remove(entryParam(raw));
      if (removed === null) throw new AdminError('not_found', 'entry: not on the blocklist');
      audit.record({ action: 'blocklist.remove', before: removed, after: null, ...actor });
      await deps.state.changed({ kind: 'unblock', ip: removed.entry });
      return removed.entry;
    },
  };
}
