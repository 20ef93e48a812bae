/**
 * The one route table: every HTTP route of both listeners, by its `[routes]`
 * key. The `[routes]` config schema and defaults, `check`'s distinctness rule,
 * the surface registry (surfaces/index.ts), the management index document, the
 * admin Routes view and the route tables of docs/api.md and
 * docs/configuration.md all derive from it (test/config/routes-doc.test.ts
 * fails when the docs disagree). A new public route is one entry here plus
 * its surface in surfaces/index.ts.
 */
import type { Api } from '@sipp/shared';

export type Listener = 'public' | 'management';

export interface RouteSpec {
  listener: Listener;
  /** The default path (`[routes]` key's default). */
  path: string;
  /** The methods the route answers (public routes also answer OPTIONS for CORS preflight). */
  methods: readonly string[];
  /** The wire format of a public route. */
  api?: Api;
}

export const ROUTES = {
  query: { listener: 'public', path: '/v1/query', methods: ['POST'], api: 'sipp' },
  chat: { listener: 'public', path: '/v1/chat', methods: ['POST'], api: 'sipp' },
  embed: { listener: 'public', path: '/v1/embed', methods: ['POST'], api: 'sipp' },
  openai_chat: { listener: 'public', path: '/v1/chat/completions', methods: ['POST'], api: 'openai' },
  openai_completions: { listener: 'public', path: '/v1/completions', methods: ['POST'], api: 'openai' },
  openai_embeddings: { listener: 'public', path: '/v1/embeddings', methods: ['POST'], api: 'openai' },
  openai_models: { listener: 'public', path: '/v1/models', methods: ['GET'], api: 'openai' },
  anthropic_messages: { listener: 'public', path: '/v1/messages', methods: ['POST'], api: 'anthropic' },
  openai_model: { listener: 'public', path: '/v1/models/:id', methods: ['GET'], api: 'openai' },
  anthropic_count_tokens: { listener: 'public', path: '/v1/messages/count_tokens', methods: ['POST'], api: 'anthropic' },
  // Also serves `{path}/{id}` (GET, DELETE) and `{path}/{id}/input_items` (GET): surfaces/index.ts.
  openai_responses: { listener: 'public', path: '/v1/responses', methods: ['POST'], api: 'openai' },
  index: { listener: 'management', path: '/', methods: ['GET'] },
  health: { listener: 'management', path: '/healthz', methods: ['GET'] },
  readiness: { listener: 'management', path: '/readyz', methods: ['GET'] },
  metrics: { listener: 'management', path: '/metrics', methods: ['GET'] },
  admin: { listener: 'management', path: '/admin', methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
} as const satisfies Record<string, RouteSpec>;

export type RouteKey = keyof typeof ROUTES;
type KeysOn<L extends Listener> = { [K in RouteKey]: (typeof ROUTES)[K]['listener'] extends L ? K : never }[RouteKey];
export type PublicRouteKey = KeysOn<'public'>;
export type ManagementRouteKey = KeysOn<'management'>;

export const ROUTE_KEYS = Object.keys(ROUTES) as RouteKey[];
export const PUBLIC_ROUTE_KEYS = ROUTE_KEYS.filter((k) => ROUTES[k].listener === 'public') as PublicRouteKey[];
export const MANAGEMENT_ROUTE_KEYS = ROUTE_KEYS.filter((k) => ROUTES[k].listener === 'management') as ManagementRouteKey[];

/** The configured paths of one listener's routes, by key (the index document's `routes`). */
export function pathsOf<K extends RouteKey>(keys: readonly K[], paths: Readonly<Record<RouteKey, string>>): Record<K, string> {
  return Object.fromEntries(keys.map((k) => [k, paths[k]])) as Record<K, string>;
}
