/**
 * The public routes that are not a surface (surfaces/index.ts names them):
 * the model list and details, and Anthropic token counting. Each runs the
 * beforeBody stage (the checks up to the token) itself.
 */
import type { Context } from 'koa';
import type { HandlerName } from '../surfaces/index.js';
import { createCountTokensHandler } from './count-tokens.js';
import { createModelHandler, createModelListHandler } from './models.js';
import type { PipelineDeps } from './pipeline.js';

export const ROUTE_HANDLERS: Record<HandlerName, (deps: PipelineDeps) => (ctx: Context) => Promise<void>> = {
  model_list: createModelListHandler,
  model: createModelHandler,
  count_tokens: createCountTokensHandler,
};
