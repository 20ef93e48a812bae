/**
 * Reads a small JSON request body. Errors never echo the body: a login body
 * holds the admin password.
 */
import type { Context } from 'koa';
import { AdminError } from './admin-error.js';

export const MAX_ADMIN_BODY_BYTES = 16 * 1024;

export async function readJson(ctx: Context, limit = MAX_ADMIN_BODY_BYTES): Promise<unknown> {
  if (!ctx.is('application/json')) throw new AdminError('invalid_request', 'expected an application/json body');
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new AdminError('invalid_request', `body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new AdminError('invalid_request', `body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError('invalid_request', 'body is not valid JSON');
  }
}
