/**
 * Runtime controls as one document: what the admin dashboard can change at run
 * time (rate-limit settings, concurrency limit, blocklist entries). Only what
 * an operator changed is stored; at start the TOML gives the defaults and the
 * stored document overrides them.
 */
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
    if (entry !== null) wanted.push({ entry, addedAt: e.addedAt, expiresAt: e.expiresAt ?? null, note: typeof e.note === 'string' ? e.note : null });
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

/** Checks a document read from a file or Redis; throws a message naming the first problem. */
export function parseControlsDoc(value: unknown): ControlsDoc {
  const fail = (what: string): never => {
    throw new Error(what);
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail('not a JSON object');
  const v = value as Record<string, unknown>;
  const doc: ControlsDoc = { blocklist: [] };
  if (v.rateLimit !== undefined) {
    const r = v.rateLimit as Record<string, unknown>;
    if (
      !r ||
      typeof r.enabled !== 'boolean' ||
      typeof r.requestsPerMinute !== 'number' ||
      !(r.requestsPerMinute > 0) ||
      typeof r.burst !== 'number' ||
      !Number.isInteger(r.burst) ||
      r.burst <= 0
    ) {
      fail('rateLimit must be {enabled: boolean, requestsPerMinute: number > 0, burst: integer > 0}');
    }
    doc.rateLimit = { enabled: r.enabled as boolean, requestsPerMinute: r.requestsPerMinute as number, burst: r.burst as number };
  }
  if (v.concurrencyLimit !== undefined) {
    const c = v.concurrencyLimit;
    if (c !== null && !(typeof c === 'number' && Number.isInteger(c) && c > 0)) fail('concurrencyLimit must be null or an integer > 0');
    doc.concurrencyLimit = c as number | null;
  }
  if (v.blocklist !== undefined) {
    if (!Array.isArray(v.blocklist)) fail('blocklist must be an array');
    for (const [i, e] of (v.blocklist as unknown[]).entries()) {
      const entry = e as Record<string, unknown>;
      if (!entry || typeof entry.ip !== 'string' || typeof entry.addedAt !== 'number') fail(`blocklist[${i}] must be {ip: string, addedAt: number}`);
      if (entry.expiresAt !== undefined && entry.expiresAt !== null && typeof entry.expiresAt !== 'number') fail(`blocklist[${i}].expiresAt must be null or epoch ms`);
      if (entry.note !== undefined && entry.note !== null && typeof entry.note !== 'string') fail(`blocklist[${i}].note must be null or a string`);
      doc.blocklist.push(entry as BlockEntry);
    }
  }
  if (v.drained !== undefined) {
    if (!Array.isArray(v.drained) || !v.drained.every((t) => typeof t === 'string')) fail('drained must be an array of target names');
    doc.drained = v.drained as string[];
  }
  return doc;
}
