/**
 * Server-side, in-memory koa-session store. Sessions live only in this
 * process: a restart (or logout, which destroys the entry) invalidates every
 * cookie. Expired entries are dropped on read and by `sweep`.
 */
interface Stored {
  value: Record<string, unknown>;
  expiresAt: number;
}

export class MemorySessionStore {
  private readonly sessions = new Map<string, Stored>();
  constructor(
    private readonly maxSessions = 1_000,
    /** The clock, in ms (default Date.now); injectable for tests. */
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return structuredClone(s.value);
  }

  async set(key: string, value: Record<string, unknown>, maxAge: number | 'session' | undefined): Promise<void> {
    const ttl = typeof maxAge === 'number' ? maxAge : 8 * 3600_000;
    if (!this.sessions.has(key) && this.sessions.size >= this.maxSessions) {
      this.sweep();
      if (this.sessions.size >= this.maxSessions) {
        const oldest = this.sessions.keys().next();
        if (!oldest.done) this.sessions.delete(oldest.value);
      }
    }
    this.sessions.set(key, { value: structuredClone(value), expiresAt: this.now() + ttl });
  }

  async destroy(key: string): Promise<void> {
    this.sessions.delete(key);
  }

  sweep(now = this.now()): void {
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** What koa-session needs from an external store. */
export interface SessionStore {
  get(key: string): Promise<Record<string, unknown> | undefined>;
  set(key: string, value: Record<string, unknown>, maxAge: number | 'session' | undefined): Promise<void>;
  destroy(key: string): Promise<void>;
  sweep?(): void;
}

/** The few shared key-value operations a fleet-wide store needs (state/shared-kv.ts). */
export interface SessionKv {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
}

/**
 * Sessions shared by every replica (redis state backend): each session is one
 * key with the session's TTL, so Redis expires it; signing out on any replica
 * deletes it for all. Failures surface as StateUnavailableError (503).
 */
export class SharedSessionStore implements SessionStore {
  constructor(private readonly kv: SessionKv) {}

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const text = await this.kv.get(`session:${key}`);
    return text === null ? undefined : (JSON.parse(text) as Record<string, unknown>);
  }

  async set(key: string, value: Record<string, unknown>, maxAge: number | 'session' | undefined): Promise<void> {
    await this.kv.set(`session:${key}`, JSON.stringify(value), typeof maxAge === 'number' ? maxAge : 8 * 3600_000);
  }

  async destroy(key: string): Promise<void> {
    await this.kv.del(`session:${key}`);
  }
}

/**
 * The redis backend's store with a local fallback (docs/dashboard.md
 * "Sign-in, sessions, CSRF"): while the shared store is unreachable a new
 * session is kept in this process's memory, valid on this replica only, so
 * the operator can still sign in during a Redis outage. Local sessions are
 * looked up first and keep working when Redis is back; an unreadable shared
 * session reads as signed out (sign in again), never as an error page.
 */
export class FallbackSessionStore implements SessionStore {
  constructor(
    private readonly shared: SessionStore,
    private readonly local: MemorySessionStore,
    /** Called when a session had to be kept locally. */
    private readonly onLocal: () => void,
    private readonly isUnavailable: (err: unknown) => boolean,
  ) {}

  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const mine = await this.local.get(key);
    if (mine) return mine;
    try {
      const value = await this.shared.get(key);
      if (value) this.remember(key);
      return value;
    } catch (err) {
      if (this.isUnavailable(err)) return undefined;
      throw err;
    }
  }

  /** Ids of sessions read from the shared store lately: signing one of them out must reach Redis. */
  private readonly sharedSeen = new Set<string>();
  private remember(key: string): void {
    this.sharedSeen.delete(key);
    this.sharedSeen.add(key);
    if (this.sharedSeen.size > 1_000) this.sharedSeen.delete(this.sharedSeen.values().next().value!);
  }

  async set(key: string, value: Record<string, unknown>, maxAge: number | 'session' | undefined): Promise<void> {
    if (await this.local.get(key)) return this.local.set(key, value, maxAge);
    try {
      await this.shared.set(key, value, maxAge);
    } catch (err) {
      if (!this.isUnavailable(err)) throw err;
      await this.local.set(key, value, maxAge);
      this.onLocal();
    }
  }

  async destroy(key: string): Promise<void> {
    const wasLocal = (await this.local.get(key)) !== undefined;
    await this.local.destroy(key);
    try {
      await this.shared.destroy(key);
      this.sharedSeen.delete(key);
    } catch (err) {
      // A local session, or an id never stored (a sign-in's fresh one), is gone already; a shared
      // session must really be deleted (else 503: retry the sign-out).
      if (!this.isUnavailable(err) || (!wasLocal && this.sharedSeen.has(key))) throw err;
    }
  }

  sweep(): void {
    this.local.sweep();
  }
}
