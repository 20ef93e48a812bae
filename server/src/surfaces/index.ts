/**
 * The public routes of every API surface: the route table (routes.ts) gives
 * the keys and `[routes]` the paths; this registry says which surface speaks
 * each. app.ts mounts them; pipeline.ts runs them.
 */
import type { Api } from '@sipp/shared';
import type { GatewayConfig } from '../config/schema.js';
import { bearerCredential, type Surface } from './surface.js';
import { PUBLIC_ROUTE_KEYS, type PublicRouteKey, ROUTES } from '../routes.js';
import { anthropicMessagesSurface } from './anthropic/index.js';
import { openAIChatSurface } from './openai/chat.js';
import { openAICompletionsSurface } from './openai/completions.js';
import { openAIEmbeddingsSurface } from './openai/embeddings.js';
import { renderModelList } from './openai/models.js';
import { sippEmbedSurface, sippTextSurface } from './sipp/index.js';

export type PublicRoute =
  | { key: PublicRouteKey; path: string; method: 'POST'; surface: Surface<any> }
  | { key: PublicRouteKey; path: string; method: 'GET'; list: ModelList };

interface ModelList {
  api: Api;
  credential: Surface['credential'];
  render: typeof renderModelList;
}

/** The surface registry: what speaks each public route of the route table (routes.ts). */
const SURFACES: { [K in PublicRouteKey]: (typeof ROUTES)[K]['methods'][0] extends 'GET' ? ModelList : Surface<any> } = {
  query: sippTextSurface('query'),
  chat: sippTextSurface('chat'),
  embed: sippEmbedSurface,
  openai_chat: openAIChatSurface,
  openai_completions: openAICompletionsSurface,
  openai_embeddings: openAIEmbeddingsSurface,
  openai_models: { api: 'openai', credential: bearerCredential, render: renderModelList },
  anthropic_messages: anthropicMessagesSurface,
};

export function publicRoutes(routes: GatewayConfig['routes']): PublicRoute[] {
  return PUBLIC_ROUTE_KEYS.map((key): PublicRoute => {
    const path = routes[key];
    const served = SURFACES[key];
    return ROUTES[key].methods[0] === 'GET' ? { key, path, method: 'GET', list: served as ModelList } : { key, path, method: 'POST', surface: served as Surface<any> };
  });
}

/** The API of each public path, so errors raised before routing already use its shape. */
export function apiByPath(routes: readonly PublicRoute[]): ReadonlyMap<string, Api> {
  return new Map(routes.map((r) => [r.path, r.method === 'POST' ? r.surface.api : r.list.api]));
}
