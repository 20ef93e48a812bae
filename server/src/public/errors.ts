import type { Context } from 'koa';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { errorBody } from '../surfaces/errors.js';
import { ProviderError } from '../targets/provider-error.js';
import { findRequestContext } from './request-context.js';
import { jsonBody } from '../http/json-body.js';

/**
 * Writes a JSON error response in the shape of the request's API surface
 * (RequestState.api); returns the code. Unknown errors become a bare 500.
 */
export function writeError(ctx: Context, err: unknown, log: Logger): string {
  let e: GatewayError;
  if (err instanceof GatewayError) e = err;
  else {
    log.error({ err: { message: (err as Error)?.message, name: (err as Error)?.name } }, 'unhandled error');
    e = new GatewayError('internal', 'internal error');
  }
  if (ctx.headerSent || !ctx.writable) return e.code;
  // Pass-through: the provider's own status and error document (docs/api.md#pass-through).
  const provider = e instanceof ProviderError ? e : null;
  ctx.status = provider ? provider.providerStatus : e.status;
  if (e.headers) ctx.set(e.headers);
  jsonBody(ctx, provider?.body ?? errorBody(findRequestContext(ctx)?.api ?? 'sipp', e));
  return e.code;
}
