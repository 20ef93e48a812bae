/**
 * The admin audit log: every admin action (sign-in, sign-out, each control
 * change) with its before/after values, the session's short id and the
 * management client's address. Kept in a bounded in-memory ring (newest
 * first when listed) and written to the log as one line per action. A small
 * class so a shared store can take it over later.
 */
import type { Logger } from 'pino';
import type { AuditEntry } from '@sipp/shared';

export const AUDIT_CAPACITY = 500;

export class AuditLog {
  private readonly ring: AuditEntry[] = [];

  constructor(
    private readonly log: Logger,
    readonly capacity = AUDIT_CAPACITY,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records one action; values must already be free of secrets. */
  record(entry: Omit<AuditEntry, 'time' | 'reason'> & { time?: number; reason?: string | null }): AuditEntry {
    const full: AuditEntry = {
      time: entry.time ?? this.clock(),
      action: entry.action,
      before: entry.before ?? null,
      after: entry.after ?? null,
      session: entry.session,
      client: entry.client,
      reason: entry.reason ?? null,
    };
    this.ring.push(full);
    if (this.ring.length > this.capacity) this.ring.shift();
    this.log.info({ audit: full }, `admin action ${full.action}`);
    return full;
  }

  /** Newest first. */
  list(): AuditEntry[] {
    return this.ring.slice().reverse();
  }
}
