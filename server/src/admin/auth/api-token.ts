/**
 * The admin API's automation token (docs/dashboard.md#automation): with
 * `[admin] api_token_env` set, `Authorization: Bearer <token>` stands in for a
 * session and its CSRF token (a browser never attaches this header on its
 * own, so it cannot be forged cross-site). Only the management listener's
 * admin module reads it: the public listener knows nothing of this token.
 */
import type { Context } from 'koa';
import { AdminError } from '../../errors.js';
import { safeEqual } from './password.js';

/** True when the request carries the right token; false when it carries none; throws 401 for any other Authorization. */
export type ApiTokenCheck = (ctx: Context) => boolean;

export function createApiTokenCheck(token: string | null | undefined): ApiTokenCheck {
  return (ctx) => {
    const header = ctx.get('authorization');
    if (!header) return false;
    if (!token)
      throw new AdminError('unauthenticated', 'the admin API takes no bearer token here: set [admin] api_token_env to use one');
    const presented = header.length <= 8192 ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    if (presented === undefined || !safeEqual(presented, token))
      throw new AdminError('unauthenticated', 'wrong or malformed admin API token', { 'www-authenticate': 'Bearer' });
    return true;
  };
}
