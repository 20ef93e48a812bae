/**
 * The second layer behind the CSRF token on every mutating admin call
 * (docs/dashboard.md "Sign-in, sessions, CSRF"): a browser names where a
 * request comes from (`Origin`, `Sec-Fetch-Site`), and the dashboard's own
 * requests are always same-origin. A request that carries either header must
 * show it came from the dashboard's own origin; a request with neither is a
 * non-browser tool (curl, a script), which the CSRF token alone protects —
 * every browser this dashboard supports sends `Origin` on POST/PUT/DELETE.
 */
import type { Context } from 'koa';
import { AdminError } from './admin-error.js';

/** The origin the request was addressed to (scheme and Host header), e.g. "http://127.0.0.1:9090". */
function ownOrigin(ctx: Context): string | null {
  const host = ctx.get('host');
  if (!host) return null;
  return `${ctx.protocol}://${host}`.toLowerCase();
}

/** Throws 403 csrf_failed when a browser says the request comes from another origin. */
export function requireSameOrigin(ctx: Context): void {
  const site = ctx.get('sec-fetch-site');
  if (site && site.toLowerCase() !== 'same-origin') {
    throw new AdminError(
      'csrf_failed',
      `cross-origin request refused (Sec-Fetch-Site: ${site === 'cross-site' || site === 'same-site' || site === 'none' ? site : 'other'})`,
    );
  }
  const origin = ctx.get('origin');
  if (origin && origin.toLowerCase() !== ownOrigin(ctx)) {
    throw new AdminError('csrf_failed', 'cross-origin request refused (Origin is not this dashboard)');
  }
}
