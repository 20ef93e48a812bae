/**
 * The public routes of every API surface: the route table (routes.ts) gives
 * the keys and `[routes]` the paths; this registry says which surface speaks
 * each. Routes that are not a surface (model details, token counting, the
 * model list, stored responses) name the handler public/route-handlers.ts
 * builds, so this folder never imports public/. app.ts mounts them;
 * pipeline.ts runs them.
 */
import type { Api } from '@sipp/shared';
import type { GatewayConfig } from '../config/schema.js';
import { PUBLIC_ROUTE_KEYS, type PublicRouteKey, ROUTES } from '../routes.js';
import { anthropicMessagesSurface } from './anthropic/index.js';
import { openAIChatSurface } from './openai/chat.js';
import { openAICompletionsSurface } from './openai/completions.js';
import { openAIEmbeddingsSurface } from './openai/embeddings.js';
import { openAIResponsesSurface } from './responses/index.js';
import { createResponseStore, type ResponseStore } from './responses/store.js';
import { sippEmbedSurface, sippTextSurface } from './sipp/index.js';
import type { Surface } from './surface.js';

/** The public routes whose handler is not a surface (built by public/route-handlers.ts). */
export type HandlerName =
  'model_list' | 'model' | 'count_tokens' | 'response_retrieve' | 'response_delete' | 'response_input_items';

export interface RouteHandler {
  api: Api;
  handler: HandlerName;
}

export type PublicRoute =
  | { key: PublicRouteKey; path: string; method: 'POST'; surface: Surface<any> }
  | { key: PublicRouteKey; path: string; method: 'GET' | 'POST'; handler: RouteHandler }
  /** Paths under a route's own (`/v1/responses/:id`): a handler by HTTP method. */
  | {
      key: PublicRouteKey;
      path: string;
      method: 'RESOURCE';
      resource: { api: Api; handlers: Partial<Record<'GET' | 'DELETE', HandlerName>> };
    };

export interface RouteDeps {
  /** Stored Responses API responses ([responses], docs/api.md#responses). */
  responses: ResponseStore;
}

/** The surface registry: what speaks each public route of the route table (routes.ts). */
function registry(deps: RouteDeps): Record<PublicRouteKey, Surface<any> | RouteHandler> {
  return {
    query: sippTextSurface('query'),
    chat: sippTextSurface('chat'),
    embed: sippEmbedSurface,
    openai_chat: openAIChatSurface,
    openai_completions: openAICompletionsSurface,
    openai_embeddings: openAIEmbeddingsSurface,
    openai_models: { api: 'openai', handler: 'model_list' },
    anthropic_messages: anthropicMessagesSurface,
    openai_model: { api: 'openai', handler: 'model' },
    anthropic_count_tokens: { api: 'anthropic', handler: 'count_tokens' },
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
    if ('handler' in served) return { key, path, method, handler: served };
    return { key, path, method: 'POST', surface: served };
  });
  // Stored responses under the Responses route (docs/api.md#responses).
  const base = routes.openai_responses;
  mounted.push(
    {
      key: 'openai_responses',
      path: `${base}/:id`,
      method: 'RESOURCE',
      resource: { api: 'openai', handlers: { GET: 'response_retrieve', DELETE: 'response_delete' } },
    },
    {
      key: 'openai_responses',
      path: `${base}/:id/input_items`,
      method: 'RESOURCE',
      resource: { api: 'openai', handlers: { GET: 'response_input_items' } },
    },
  );
  return mounted;
}

/** The API of each public path, so errors raised before routing already use its shape. */
export function apiByPath(routes: readonly PublicRoute[]): ReadonlyMap<string, Api> {
  return new Map(
    routes.map((r) => [r.path, 'handler' in r ? r.handler.api : r.method === 'RESOURCE' ? r.resource.api : r.surface.api]),
  );
}
