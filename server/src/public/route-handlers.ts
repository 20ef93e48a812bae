/**
 * The public routes that are not a surface (surfaces/index.ts names them):
 * the model list and details, Anthropic token counting, and the stored
 * Responses API responses. Each runs the beforeBody stage (the checks up to
 * the token) itself.
 */
import type { Context } from 'koa';
import type { HandlerName } from '../surfaces/index.js';
import type { ResponseStore } from '../surfaces/responses/store.js';
import { createCountTokensHandler } from './count-tokens.js';
import { createModelHandler, createModelListHandler } from './models.js';
import type { PipelineDeps } from './pipeline.js';
import {
  createResponseDeleteHandler,
  createResponseInputItemsHandler,
  createResponseRetrieveHandler,
} from './responses-resources.js';

/** The pipeline's deps plus the stores a handler answers from. */
export interface RouteHandlerDeps extends PipelineDeps {
  /** Stored Responses API responses (docs/api.md#responses). */
  responses: ResponseStore;
}

export const ROUTE_HANDLERS: Record<HandlerName, (deps: RouteHandlerDeps) => (ctx: Context) => Promise<void>> = {
  model_list: createModelListHandler,
  model: createModelHandler,
  count_tokens: createCountTokensHandler,
  response_retrieve: createResponseRetrieveHandler,
  response_delete: createResponseDeleteHandler,
  response_input_items: createResponseInputItemsHandler,
};
