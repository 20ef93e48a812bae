import type { ErrorBody } from '@sipp/shared';
import type { GatewayError } from '../../errors.js';

/** docs/api.md#errors: `{"error":{"code","message"}}`. */
export function sippError(e: GatewayError): ErrorBody {
  return { error: { code: e.code, message: e.message } };
}
