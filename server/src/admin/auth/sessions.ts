/**
 * Admin sessions (docs/dashboard.md): koa-session with the server-side memory store,
 * cookie scoped to the admin path, HttpOnly + SameSite=Strict, 8 h TTL. The
 * cookie only holds a random session id (signed with per-process keys); the
 * CSRF token lives in the session and is handed to the SPA in the JSON body.
 */
import { randomBytes } from 'node:crypto';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { ADMIN_CSRF_HEADER, LoginRequestSchema, type SessionInfo } from '@sipp/shared';
import { normalizeIp } from '../../security/blocklist.js';
import type { AuditLog } from '../audit-log.js';
import { AdminError } from '../../errors.js';
import { readJson } from '../http/read-json.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoginThrottle, type LockoutScope, type LoginThrottleRules } from './login-throttle.js';
import { createPasswordCheck, safeEqual } from './password.js';
import { StateUnavailableError, type SharedKv } from '../../state/index.js';
import { FallbackSessionStore, MemorySessionStore, SharedSessionStore, type SessionStore } from './session-store.js';
import { FallbackThrottle, SharedLoginThrottle } from './shared-login-throttle.js';

export const SESSION_TTL_MS = 8 * 3600_000;
export const SESSION_COOKIE = 'sipp_admin_session';
/** A new source waits at most this long for the failed-login budget, then gets 429 with Retry-After. */
export const MAX_LOGIN_WAIT_MS = 30_000;

interface AdminSessionData {
  authenticated?: boolean;
  csrf?: string;
  expiresAt?: number;
  /** Short random id shown in the audit log (not the session cookie, which stays secret). */
  shortId?: string;
}

type SessionCtx = Context & { session: (AdminSessionData & { regenerate(): Promise<void> }) | null };

export interface SessionsOptions {
  app: Koa;
  basePath: string;
  password: string;
  log: Logger;
  throttle?: LoginThrottle;
  /** Called when a login lockout starts (the metric). */
  onLockout?: (scope: LockoutScope) => void;
  /** The redis state backend's shared store: sessions and login throttle then live there, for every replica. */
  shared?: SharedKv | null;
  /** Sign-ins, failed sign-ins and sign-outs are recorded here. */
  audit?: AuditLog;
}

export interface Sessions {
  /** koa-session middleware (mount before the API). */
  middleware: Middleware;
  /** Throws 401 unless the request carries a live admin session. */
  requireSession(ctx: Context): AdminSessionData & { csrf: string };
  /** Throws 403 csrf_failed unless `x-sipp-admin-csrf` matches the session's token. */
  requireCsrf(ctx: Context): void;
  current(ctx: Context): SessionInfo;
  login(ctx: Context): Promise<SessionInfo>;
  logout(ctx: Context): void;
  /** The live session's short id (audit log), or null. */
  shortIdOf(ctx: Context): string | null;
  store: SessionStore;
  close(): void;
}

/** The management client's TCP peer (the SSH tunnel end, usually loopback). */
export function peerOf(ctx: Context): string {
  return normalizeIp(ctx.req.socket.remoteAddress ?? '') ?? 'unknown';
}

export function createSessions(opts: SessionsOptions): Sessions {
  const unavailable = (err: unknown) => err instanceof StateUnavailableError;
  const store: SessionStore = opts.shared
    ? new FallbackSessionStore(
        new SharedSessionStore(opts.shared),
        new MemorySessionStore(),
        () => opts.log.warn('admin session kept on this replica only: the shared session store (Redis) is unreachable'),
        unavailable,
      )
    : new MemorySessionStore();
  const throttle: LoginThrottleRules = opts.shared
    ? new FallbackThrottle(new SharedLoginThrottle(opts.shared), opts.throttle ?? new LoginThrottle())
    : (opts.throttle ?? new LoginThrottle());
  const checkPassword = createPasswordCheck(opts.password);
  const sweeper = setInterval(() => {
    store.sweep?.();
    throttle.sweep();
  }, 60_000);
  sweeper.unref();

  // koa-session (and the zod 3, crc and is-type-of it brings) is loaded on the first admin request, not at
  // start-up: a gateway nobody signs in to never holds it (docs/operations.md#memory). It extends
  // app.context when created, which contexts made before then still see (their prototype).
  let session: Promise<Middleware> | undefined;
  const middleware: Middleware = async (ctx, next) => {
    session ??= import('koa-session').then(
      ({ default: createSession }) =>
        createSession(
          {
            key: SESSION_COOKIE,
            store,
            maxAge: SESSION_TTL_MS,
            httpOnly: true,
            signed: true,
            sameSite: 'strict',
            path: opts.basePath === '/' ? '/' : opts.basePath,
            overwrite: true,
            rolling: false,
            renew: false,
            genid: () => randomBytes(32).toString('base64url'),
          } as Parameters<typeof import('koa-session').default>[0],
          opts.app,
        ) as Middleware,
    );
    return (await session)(ctx, next);
  };

  const info = (s: AdminSessionData & { csrf: string }): SessionInfo => ({
    authenticated: true,
    csrfToken: s.csrf,
    csrfHeader: ADMIN_CSRF_HEADER,
    basePath: opts.basePath,
    expiresAt: s.expiresAt ?? Date.now() + SESSION_TTL_MS,
  });

  const requireSession = (ctx: Context): AdminSessionData & { csrf: string } => {
    const s = (ctx as SessionCtx).session;
    if (!s || s.authenticated !== true || typeof s.csrf !== 'string' || (s.expiresAt ?? 0) <= Date.now()) {
      throw new AdminError('unauthenticated', 'sign in to use the admin API');
    }
    return s as AdminSessionData & { csrf: string };
  };

  return {
    middleware,
    store,
    requireSession,
    requireCsrf(ctx) {
      const s = requireSession(ctx);
      const presented = ctx.get(ADMIN_CSRF_HEADER);
      if (!presented || !safeEqual(presented, s.csrf)) {
        throw new AdminError('csrf_failed', `missing or wrong ${ADMIN_CSRF_HEADER} header`);
      }
    },
    current(ctx) {
      return info(requireSession(ctx));
    },
    async login(ctx) {
      const client = peerOf(ctx);
      // A new source waits for the budget (never refused outright); docs/dashboard.md "Sign-in, sessions, CSRF".
      const began = Date.now();
      let logged = false;
      for (;;) {
        const a = await throttle.admission(client);
        if (a.kind === 'ok') {
          if (a.budgetSpent) {
            opts.onLockout?.('global');
            opts.log.warn(
              { client },
              'admin login budget spent: addresses that failed before must wait, new addresses queue for the next check',
            );
          }
          break;
        }
        const waited = Date.now() - began;
        if (a.kind === 'wait' && waited + a.waitMs <= MAX_LOGIN_WAIT_MS) {
          if (!logged) opts.log.info({ client }, 'admin login waits for the failed-login budget');
          logged = true;
          await sleep(Math.min(a.waitMs, 250));
          continue;
        }
        const retryAfterSeconds = a.kind === 'refuse' ? a.retryAfterSeconds : Math.max(1, Math.ceil(a.waitMs / 1000));
        opts.log.warn(
          { client, scope: a.kind === 'refuse' ? a.scope : 'global' },
          'admin login refused: too many failed attempts',
        );
        throw new AdminError('rate_limited', 'too many failed sign-in attempts; try again later', {
          'Retry-After': String(retryAfterSeconds),
        });
      }
      const parsed = LoginRequestSchema.safeParse(
        await readJson(ctx).catch(async (err: unknown) => {
          await throttle.release();
          throw err;
        }),
      );
      if (!parsed.success) {
        await throttle.release();
        throw new AdminError('invalid_request', 'body must be {"password": string}');
      }
      if (!checkPassword(parsed.data.password)) {
        const tripped = await throttle.failure(client);
        opts.log.warn({ client }, 'admin login failed');
        if (tripped === 'client') {
          opts.log.warn({ client }, 'admin login slowed for this client: each further failure doubles its wait');
        }
        opts.audit?.record({ action: 'login_failed', before: null, after: null, session: null, client });
        throw new AdminError('unauthenticated', 'wrong password');
      }
      await throttle.success(client);
      const sctx = ctx as SessionCtx;
      const data: AdminSessionData & { csrf: string } = {
        authenticated: true,
        csrf: randomBytes(32).toString('base64url'),
        expiresAt: Date.now() + SESSION_TTL_MS,
        shortId: randomBytes(4).toString('hex'),
      };
      // A fresh session id on every login (no session fixation).
      (ctx as unknown as { session: AdminSessionData }).session = data;
      await sctx.session!.regenerate();
      opts.log.info({ client }, 'admin signed in');
      opts.audit?.record({ action: 'login', before: null, after: { expiresAt: data.expiresAt }, session: data.shortId!, client });
      return info(data);
    },
    logout(ctx) {
      const s = requireSession(ctx);
      (ctx as SessionCtx).session = null;
      opts.log.info({ client: peerOf(ctx) }, 'admin signed out');
      opts.audit?.record({ action: 'logout', before: null, after: null, session: s.shortId ?? null, client: peerOf(ctx) });
    },
    shortIdOf(ctx) {
      const s = (ctx as SessionCtx).session;
      return s && s.authenticated === true ? (s.shortId ?? null) : null;
    },
    close() {
      clearInterval(sweeper);
    },
  };
}
