/**
 * The public routes of every API surface, from `[routes]`: which path speaks
 * which wire format. app.ts mounts them; pipeline.ts runs them.
 */
import type { Api } from '@sipp/shared';
import type { Context } from 'koa';
import type { GatewayConfig } from '../config/schema.js';
import type { Caller } from '../security/bearer.js';
import { bearerCredential, type Surface } from '../public/surface.js';
import { anthropicMessagesSurface } from './anthropic/index.js';
import { openAIChatSurface } from './openai/chat.js';
import { openAICompletionsSurface } from './openai/completions.js';
import { openAIEmbeddingsSurface } from './openai/embeddings.js';
import { renderModelList } from './openai/models.js';
import { openAIResponsesSurface, responseResources } from './responses/index.js';
import type { ResponseStore } from './responses/store.js';
import { sippSurface } from './sipp/index.js';

export type PublicRoute =
  | { path: string; method: 'POST'; surface: Surface<any> }
  | { path: string; method: 'GET'; list: { api: Api; credential: Surface['credential']; render: typeof renderModelList } }
  | { path: string; method: 'RESOURCE'; resource: { api: Api; credential: Surface['credential']; handlers: ResourceHandlers } };

/** Handlers of a stored-resource path by HTTP method (`GET`, `DELETE`). */
export type ResourceHandlers = Partial<Record<'GET' | 'DELETE', (ctx: Context, caller: Caller) => Promise<unknown>>>;

export interface RouteDeps {
  /** Stored Responses API responses ([responses], docs/api.md#responses). */
  responses: ResponseStore;
}

export function publicRoutes(routes: GatewayConfig['routes'], deps: RouteDeps): PublicRoute[] {
  const stored = responseResources(deps.responses);
  const resource = (handlers: ResourceHandlers) => ({ api: 'openai' as const, credential: bearerCredential, handlers });
  return [
    { path: routes.query, method: 'POST', surface: sippSurface('query') },
    { path: routes.chat, method: 'POST', surface: sippSurface('chat') },
    { path: routes.embed, method: 'POST', surface: sippSurface('embed') },
    { path: routes.openai_chat, method: 'POST', surface: openAIChatSurface },
    { path: routes.openai_completions, method: 'POST', surface: openAICompletionsSurface },
    { path: routes.openai_embeddings, method: 'POST', surface: openAIEmbeddingsSurface },
    { path: routes.openai_models, method: 'GET', list: { api: 'openai', credential: bearerCredential, render: renderModelList } },
    { path: routes.anthropic_messages, method: 'POST', surface: anthropicMessagesSurface },
    { path: routes.openai_responses, method: 'POST', surface: openAIResponsesSurface(deps.responses) },
    { path: `${routes.openai_responses}/:id`, method: 'RESOURCE', resource: resource({ GET: stored.retrieve, DELETE: stored.remove }) },
    { path: `${routes.openai_responses}/:id/input_items`, method: 'RESOURCE', resource: resource({ GET: stored.inputItems }) },
  ];
}

/** The API of each public path, so errors raised before routing already use its shape. */
export function apiByPath(routes: readonly PublicRoute[]): ReadonlyMap<string, Api> {
  return new Map(routes.map((r) => [r.path, r.method === 'POST' ? r.surface.api : r.method === 'GET' ? r.list.api : r.resource.api]));
}
