/**
 * Runtime controls as one document: what the admin dashboard can change at run
 * time (rate-limit settings, concurrency limit, blocklist entries). Only what
 * an operator changed is stored; at start the TOML gives the defaults and the
 * stored document overrides them.
 */
import { BLOCK_NOTE_MAX, ConcurrencyUpdateSchema, RateLimitUpdateSchema } from '@sipp/shared';
import { z } from 'zod';
import { normalizeEntry, type BlocklistEntry } from '../security/blocklist.js';
import type { Controls } from '../security/controls.js';
import type { RateLimitSettings } from '../security/rate-limit.js';

/** A stored blocklist entry; `ip` holds the canonical address or CIDR range (expiry and note are carried along). */
export interface BlockEntry {
  ip: string;
  addedAt: number;
  expiresAt?: number | null;
  [field: string]: unknown;
}

export interface ControlsDoc {
  rateLimit?: RateLimitSettings;
  concurrencyLimit?: number | null;
  blocklist: BlockEntry[];
  /** Targets an operator drained (absent: keep the current drains). */
  drained?: string[];
}

export type ControlChange =
  | { kind: 'rate_limit'; settings: RateLimitSettings }
  | { kind: 'concurrency'; limit: number | null }
  | { kind: 'block'; entry: BlockEntry }
  | { kind: 'unblock'; ip: string }
  | { kind: 'drain'; target: string }
  | { kind: 'release'; target: string };

/** A target's drain switch (the router's circuit breaker). */
export interface DrainSwitch {
  drain(): void;
  release(): void;
  snapshot(): { drained: boolean };
}

/** The live objects the public pipeline consults. */
export interface LiveControls extends Controls {
  /** Each target's drain switch, by target name. */
  drains?: () => Iterable<readonly [string, DrainSwitch]>;
}

/** Whether a stored entry still applies at `now` (expiry is checked on every load, not only by the matcher). */
const live = (e: BlockEntry, now: number) => e.expiresAt === undefined || e.expiresAt === null || e.expiresAt > now;

/** Replaces the live state with `doc`; fields the document lacks keep their current (TOML) value. */
export function applyControls(target: LiveControls, doc: ControlsDoc, now = Date.now()): void {
  if (doc.rateLimit) {
    const cur = target.rateLimiter.settings();
    const want = doc.rateLimit;
    if (cur.enabled !== want.enabled || cur.requestsPerMinute !== want.requestsPerMinute || cur.burst !== want.burst) {
      target.rateLimiter.configure(want);
    }
  }
  if (doc.concurrencyLimit !== undefined && target.admission.limit !== doc.concurrencyLimit) {
    target.admission.setLimit(doc.concurrencyLimit);
  }
  if (doc.drained && target.drains) {
    const drained = new Set(doc.drained);
    for (const [name, sw] of target.drains()) {
      const want = drained.has(name);
      if (want && !sw.snapshot().drained) sw.drain();
      else if (!want && sw.snapshot().drained) sw.release();
    }
  }
  // The whole set is replaced only when it differs (the matcher is rebuilt on replace).
  const wanted: BlocklistEntry[] = [];
  for (const e of doc.blocklist) {
    const entry = live(e, now) ? normalizeEntry(e.ip) : null;
    if (entry !== null)
      wanted.push({
        entry,
        addedAt: e.addedAt,
        expiresAt: e.expiresAt ?? null,
        note: typeof e.note === 'string' ? e.note : null,
      });
  }
  const key = (list: BlocklistEntry[]) => JSON.stringify(list.map((e) => [e.entry, e.expiresAt, e.note]).sort());
  if (key(wanted) !== key(target.blocklist.list())) target.blocklist.replaceAll(wanted);
}

/**
 * Folds one change into a stored document (the file backend keeps the whole
 * document). Expired blocklist entries are dropped on the way, so the stored
 * document does not grow with blocks that no longer apply.
 */
export function foldChange(doc: ControlsDoc, change: ControlChange, now = Date.now()): ControlsDoc {
  doc = { ...doc, blocklist: doc.blocklist.filter((e) => live(e, now)) };
  switch (change.kind) {
    case 'rate_limit':
      return { ...doc, rateLimit: { ...change.settings } };
    case 'concurrency':
      return { ...doc, concurrencyLimit: change.limit };
    case 'block':
      return { ...doc, blocklist: [...doc.blocklist.filter((e) => e.ip !== change.entry.ip), { ...change.entry }] };
    case 'unblock':
      return { ...doc, blocklist: doc.blocklist.filter((e) => e.ip !== change.ip) };
    case 'drain':
      return { ...doc, drained: [...new Set([...(doc.drained ?? []), change.target])] };
    case 'release':
      return { ...doc, drained: (doc.drained ?? []).filter((t) => t !== change.target) };
  }
}

/** Shows a stored value in an error without echoing a huge one. */
const shown = (v: unknown) => JSON.stringify(typeof v === 'string' && v.length > 64 ? `${v.slice(0, 64)}…` : v);

/**
 * One stored blocklist entry: the admin API's limits (docs/dashboard.md), an
 * address or CIDR the blocklist accepts (kept in its canonical form).
 */
const StoredBlockSchema = z.strictObject({
  ip: z.string({ error: 'must be a string (an IP address or CIDR)' }).transform((ip, ctx) => {
    const canonical = normalizeEntry(ip);
    if (canonical === null) {
      ctx.addIssue({ code: 'custom', message: `not a valid IP address or CIDR (${shown(ip)})` });
      return z.NEVER;
    }
    return canonical;
  }),
  addedAt: z.number({ error: 'must be epoch ms' }).int('must be epoch ms').nonnegative('must be epoch ms'),
  expiresAt: z
    .number({ error: 'must be null or epoch ms' })
    .int('must be null or epoch ms')
    .nonnegative('must be null or epoch ms')
    .nullable()
    .optional(),
  note: z
    .string({ error: 'must be null or a string' })
    .max(BLOCK_NOTE_MAX, `must be at most ${BLOCK_NOTE_MAX} characters`)
    .nullable()
    .optional(),
});

/** The whole document: the same ranges as the TOML and the admin API (shared/src/admin.ts), no unknown field. */
const ControlsDocSchema = z.strictObject({
  rateLimit: RateLimitUpdateSchema.optional(),
  concurrencyLimit: ConcurrencyUpdateSchema.shape.limit.optional(),
  blocklist: z.array(StoredBlockSchema).default([]),
  drained: z
    .array(z.string({ error: 'must be a target name' }).min(1, 'must be a target name').max(256, 'must be a target name'))
    .optional(),
});

/** "blocklist[1].ip: …" for the first problem of a failed parse. */
function describeIssue(issue: z.core.$ZodIssue): string {
  let where = '';
  for (const p of issue.path) where += typeof p === 'number' ? `[${p}]` : `${where ? '.' : ''}${String(p)}`;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => shown(k)).join(', ');
    return `${where ? `${where}: ` : ''}unknown field ${keys}`;
  }
  return `${where || 'document'}: ${issue.message}`;
}

/**
 * Checks a document read from a file or Redis against the ranges the TOML and
 * the admin API enforce; throws a message naming the first invalid entry.
 * Nothing is dropped or repaired silently (a valid, non-canonical CIDR is
 * kept in its canonical form).
 */
export function parseControlsDoc(value: unknown): ControlsDoc {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
  const parsed = ControlsDocSchema.safeParse(value);
  if (!parsed.success) throw new Error(describeIssue(parsed.error.issues[0]!));
  const d = parsed.data;
  const doc: ControlsDoc = { blocklist: d.blocklist.map((e) => ({ ...e }) as BlockEntry) };
  if (d.rateLimit) doc.rateLimit = { ...d.rateLimit };
  if (d.concurrencyLimit !== undefined) doc.concurrencyLimit = d.concurrencyLimit;
  if (d.drained) doc.drained = [...d.drained];
  return doc;
}
