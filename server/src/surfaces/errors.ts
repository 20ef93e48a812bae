/**
 * Error documents per API surface, so each SDK raises its own exception
 * class: the HTTP status comes from the gateway code (errors.ts); the body
 * follows the surface's format and keeps the gateway code visible.
 */
import type { Api } from '@sipp/shared';
import type { GatewayError } from '../errors.js';
import { anthropicError } from './anthropic/errors.js';
import { openAIError } from './openai/errors.js';
import { sippError } from './sipp/errors.js';

const RENDER: Record<Api, (e: GatewayError) => unknown> = {
  sipp: sippError,
  openai: openAIError,
  anthropic: anthropicError,
};

export function errorBody(api: Api, e: GatewayError): unknown {
  return RENDER[api](e);
}
