/**
 * The public routes of every API surface: the route table (routes.ts) gives
 * the keys and `[routes]` the paths; this registry says which surface speaks
 * each. app.ts mounts them; pipeline.ts runs them.
 */
import type { Api } from '@sipp/shared';
import type { Context } from 'koa';
import type { GatewayConfig } from '../config/schema.js';
import { createCountTokensHandler } from '../public/count-tokens.js';
import { createModelHandler, createModelListHandler } from '../public/models.js';
import type { PipelineDeps } from '../public/pipeline.js';
import { bearerCredential, type Surface } from '../public/surface.js';
import { PUBLIC_ROUTE_KEYS, type PublicRouteKey, ROUTES } from '../routes.js';
import type { Caller } from '../security/bearer.js';
import { anthropicMessagesSurface } from './anthropic/index.js';
import { openAIChatSurface } from './openai/chat.js';
import { openAICompletionsSurface } from './openai/completions.js';
import { openAIEmbeddingsSurface } from './openai/embeddings.js';
import { renderModelList } from './openai/models.js';
import { openAIResponsesSurface, responseResources } from './responses/index.js';
import { createResponseStore, type ResponseStore } from './responses/store.js';
import { sippSurface } from './sipp/index.js';

export type PublicRoute =
  | { key: PublicRouteKey; path: string; method: 'POST'; surface: Surface<any> }
  | { key: PublicRouteKey; path: string; method: 'GET'; list: ModelList }
  | { key: PublicRouteKey; path: string; method: 'GET' | 'POST'; handler: RouteHandler }
  /** Paths under a route's own (`/v1/responses/:id`): handlers by method. */
  | { key: PublicRouteKey; path: string; method: 'RESOURCE'; resource: { api: Api; credential: Surface['credential']; handlers: ResourceHandlers } };

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

/** Handlers of a stored-resource path by HTTP method (`GET`, `DELETE`). */
export type ResourceHandlers = Partial<Record<'GET' | 'DELETE', (ctx: Context, caller: Caller) => Promise<unknown>>>;

export interface RouteDeps {
  /** Stored Responses API responses ([responses], docs/api.md#responses). */
  responses: ResponseStore;
}

/** The surface registry: what speaks each public route of the route table (routes.ts). */
function registry(deps: RouteDeps): Record<PublicRouteKey, ModelList | Surface<any> | RouteHandler> {
  return {
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
    openai_responses: openAIResponsesSurface(deps.responses),
  };
}

/** Without deps (listing the routes only), stored responses live in a throwaway memory store. */
const NO_DEPS = (): RouteDeps => ({ responses: createResponseStore({ ttlMs: 1, maxStored: 1, kv: null }) });

export function publicRoutes(routes: GatewayConfig['routes'], deps: RouteDeps = NO_DEPS()): PublicRoute[] {
  const surfaces = registry(deps);
  const mounted = PUBLIC_ROUTE_KEYS.map((key): PublicRoute => {
    const path = routes[key];
    const served = surfaces[key];
    const method = ROUTES[key].methods[0] as 'GET' | 'POST';
    if ('create' in served) return { key, path, method, handler: served };
    return method === 'GET' ? { key, path, method, list: served as ModelList } : { key, path, method, surface: served as Surface<any> };
  });
  // Stored responses under the Responses route (docs/api.md#responses).
  const stored = responseResources(deps.responses);
  const resource = (handlers: ResourceHandlers) => ({ api: 'openai' as const, credential: bearerCredential, handlers });
  const base = routes.openai_responses;
  mounted.push(
    { key: 'openai_responses', path: `${base}/:id`, method: 'RESOURCE', resource: resource({ GET: stored.retrieve, DELETE: stored.remove }) },
    { key: 'openai_responses', path: `${base}/:id/input_items`, method: 'RESOURCE', resource: resource({ GET: stored.inputItems }) },
  );
  return mounted;
}

/** The API of each public path, so errors raised before routing already use its shape. */
export function apiByPath(routes: readonly PublicRoute[]): ReadonlyMap<string, Api> {
  return new Map(
    routes.map((r) => [r.path, 'handler' in r ? r.handler.api : r.method === 'POST' ? r.surface.api : r.method === 'GET' ? r.list.api : r.resource.api]),
  );
}
