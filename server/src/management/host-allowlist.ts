/**
 * DNS-rebinding defence for the management listener: a page on an attacker's
 * domain that resolves to this machine reaches the listener with the
 * attacker's name in `Host`, so only names this listener is known by are
 * accepted: `localhost`, loopback addresses, the bind address, the address
 * the connection arrived on (an IP literal cannot be rebound), and
 * `management_allowed_hosts`. The port is not compared, so SSH tunnels on any
 * local port work.
 */
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { normalizeIp } from '../security/blocklist.js';
import { jsonBody } from '../http/json-body.js';

/** The host part of a Host header value, lower-cased, without port or brackets; null when malformed. */
export function hostOf(header: string): string | null {
  const value = header.trim().toLowerCase();
  if (value === '') return null;
  let host: string;
  let rest: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1) return null;
    host = value.slice(1, close);
    rest = value.slice(close + 1);
  } else {
    const colon = value.indexOf(':');
    host = colon === -1 ? value : value.slice(0, colon);
    rest = colon === -1 ? '' : value.slice(colon);
  }
  if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
  host = host.replace(/\.$/, '');
  return host === '' ? null : host;
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip);
}

export interface HostAllowlistOptions {
  /** The listener's bind host (from management_bind). */
  bindHost: string;
  /** management_allowed_hosts (already lower-cased). */
  allowed: readonly string[];
}

export function isAllowedHost(header: string | undefined, localAddress: string | undefined, opts: HostAllowlistOptions): boolean {
  const host = header === undefined ? null : hostOf(header);
  if (host === null) return false;
  if (host === 'localhost' || opts.allowed.includes(host)) return true;
  const ip = normalizeIp(host);
  if (ip === null) return host === opts.bindHost.toLowerCase();
  if (isLoopback(ip)) return true;
  if (ip === normalizeIp(opts.bindHost)) return true;
  return localAddress !== undefined && ip === normalizeIp(localAddress);
}

/** Refuses (421) every request whose Host this listener is not known by. */
export function hostAllowlist(opts: HostAllowlistOptions, log: Logger): Middleware {
  return async (ctx, next) => {
    if (isAllowedHost(ctx.req.headers.host, ctx.req.socket.localAddress, opts)) return next();
    const shown = JSON.stringify((ctx.req.headers.host ?? '').slice(0, 100));
    log.info({ host: shown }, 'management request refused: Host not allowed');
    ctx.status = 421;
    ctx.set('cache-control', 'no-store');
    jsonBody(ctx, {
      error: {
        code: 'misdirected_request',
        message: ctx.req.headers.host
          ? `Host ${shown} is not a name of the management listener; add it to management_allowed_hosts if it is yours`
          : 'a Host header naming the management listener is required',
      },
    });
  };
}
