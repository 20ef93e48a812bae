/**
 * The public routes of every API surface: the route table (routes.ts) gives
 * the keys and `[routes]` the paths; this registry says which surface speaks
 * each. app.ts mounts them; pipeline.ts runs them.
 */
import type { Api } from '@sipp/shared';
import type { GatewayConfig } from '../config/schema.js';
import type { Surface } from '../public/surface.js';
import { PUBLIC_ROUTE_KEYS, type PublicRouteKey, ROUTES } from '../routes.js';
import { anthropicMessagesSurface } from './anthropic/index.js';
import { openAIChatSurface } from './openai/chat.js';
import { openAICompletionsSurface } from './openai/completions.js';
import { openAIEmbeddingsSurface } from './openai/embeddings.js';
import { renderModelList } from './openai/models.js';
import { sippSurface } from './sipp/index.js';
import type { Context } from 'koa';
import { createCountTokensHandler } from '../public/count-tokens.js';
import { createModelHandler, createModelListHandler } from '../public/models.js';
import type { PipelineDeps } from '../public/pipeline.js';

export type PublicRoute =
  | { key: PublicRouteKey; path: string; method: 'POST'; surface: Surface<any> }
  | { key: PublicRouteKey; path: string; method: 'GET'; list: ModelList }
  | { key: PublicRouteKey; path: string; method: 'GET' | 'POST'; handler: RouteHandler };

/** A public route with a handler of its own (model details, token counting): built from the pipeline's deps. */
export interface RouteHandler {
  api: Api;
  create(deps: PipelineDeps): (ctx: Context) => Promise<void>;
}

interface ModelList {
  api: Api;
  credential: Surface['credential'];
  render: typeof renderModelList;
}

/** The surface registry: what speaks each public route of the route table (routes.ts). */
const SURFACES: Record<PublicRouteKey, ModelList | Surface<any> | RouteHandler> = {
  query: sippSurface('query'),
  chat: sippSurface('chat'),
  embed: sippSurface('embed'),
  openai_chat: openAIChatSurface,
  openai_completions: openAICompletionsSurface,
  openai_embeddings: openAIEmbeddingsSurface,
  openai_models: { api: 'openai', create: createModelListHandler },
  anthropic_messages: anthropicMessagesSurface,
  openai_model: { api: 'openai', create: createModelHandler },
  anthropic_count_tokens: { api: 'anthropic', create: createCountTokensHandler },
};

export function publicRoutes(routes: GatewayConfig['routes']): PublicRoute[] {
  return PUBLIC_ROUTE_KEYS.map((key): PublicRoute => {
    const path = routes[key];
    const served = SURFACES[key];
    const method = ROUTES[key].methods[0] as 'GET' | 'POST';
    if ('create' in served) return { key, path, method, handler: served };
    return method === 'GET' ? { key, path, method, list: served as ModelList } : { key, path, method, surface: served as Surface<any> };
  });
}

/** The API of each public path, so errors raised before routing already use its shape. */
export function apiByPath(routes: readonly PublicRoute[]): ReadonlyMap<string, Api> {
  return new Map(routes.map((r) => [r.path, 'handler' in r ? r.handler.api : r.method === 'POST' ? r.surface.api : r.list.api]));
}
