import { GatewayError } from '../errors.js';

/**
 * A 400 `invalid_request` about one request field. `param` is the field in
 * the surface's own naming (OpenAI errors carry it as `param`); the message
 * starts with it, as every invalid_request message does.
 */
export class InvalidFieldError extends GatewayError {
  constructor(
    readonly param: string,
    detail: string,
  ) {
    super('invalid_request', `${param}: ${detail}`);
  }
}
