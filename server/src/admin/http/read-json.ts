/**
 * Reads a small JSON request body. Errors never echo the body: a login body
 * holds the admin password. Called after the route's checks (session, CSRF,
 * login throttle), so a deferred `100 Continue` goes out only then.
 */
import type { Context } from 'koa';
import { readLimited } from '../../http/read-limited.js';
import { BodyReadError, AdminError } from '../../errors.js';

export const MAX_ADMIN_BODY_BYTES = 16 * 1024;

export async function readJson(ctx: Context, limit = MAX_ADMIN_BODY_BYTES): Promise<unknown> {
  if (!ctx.is('application/json')) throw new AdminError('invalid_request', 'expected an application/json body');
  let body: Buffer;
  try {
    body = await readLimited(ctx.req, limit);
  } catch (err) {
    if (err instanceof BodyReadError && err.reason === 'too_large') {
      throw new AdminError('invalid_request', `body is larger than ${limit} bytes`);
    }
    throw new AdminError('invalid_request', 'body could not be read');
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new AdminError('invalid_request', 'body is not valid JSON');
  }
}
