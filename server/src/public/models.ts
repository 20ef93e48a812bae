/**
 * The model routes (docs/api.md#models): `GET /v1/models` lists, and
 * `GET /v1/models/{id}` describes, the names this token may send as `model`:
 * targets, groups and their exact aliases (docs/configuration.md#aliases).
 * OpenAI's shape, or Anthropic's when the request carries `anthropic-version`
 * (what the Anthropic SDK sends). `id` is always the name asked.
 */
import type { Context } from 'koa';
import { GatewayError } from '../errors.js';
import type { Router } from '../routing/router.js';
import type { Caller } from '../security/bearer.js';
import { bearerCredential } from './surface.js';
import { requestContext } from './request-context.js';
import type { Stages } from './stages.js';
import { jsonBody } from '../http/json-body.js';

export interface ModelRoutesDeps {
  targets: ReadonlyMap<string, unknown>;
  router: Pick<Router, 'groupDefinitions' | 'canonical' | 'aliasNames'>;
  stages: Stages;
}

/** `Authorization: Bearer`, else `x-api-key` (the Anthropic SDK). */
function credential(ctx: Context): string | undefined {
  const bearer = bearerCredential(ctx.req.headers);
  if (bearer) return bearer;
  const key = ctx.req.headers['x-api-key'];
  return typeof key === 'string' && key ? `Bearer ${key}` : undefined;
}

const anthropicShape = (ctx: Context): boolean => ctx.req.headers['anthropic-version'] !== undefined;

function openAIModel(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'sipp-gateway' };
}

function anthropicModel(id: string) {
  return { type: 'model', id, display_name: id, created_at: '1970-01-01T00:00:00Z' };
}

/** Every name this caller may use: targets, groups, then exact aliases (an alias when what it names is allowed). */
function usableNames(deps: ModelRoutesDeps, caller: Caller | null): string[] {
  const allowed = caller?.allowed ?? null;
  const ok = (name: string, resolved = name) => !allowed || allowed.has(name) || allowed.has(resolved);
  const names = [...deps.targets.keys(), ...deps.router.groupDefinitions().map((g) => g.name)].filter((n) => ok(n));
  for (const [alias, name] of deps.router.aliasNames()) if (ok(alias, name)) names.push(alias);
  return names;
}

async function admit(deps: ModelRoutesDeps, ctx: Context) {
  const rc = requestContext(ctx);
  rc.state.api = anthropicShape(ctx) ? 'anthropic' : 'openai';
  rc.credential = credential(ctx);
  await deps.stages.beforeBody(rc);
  return rc;
}

export function createModelListHandler(deps: ModelRoutesDeps) {
  return async function list(ctx: Context): Promise<void> {
    const rc = await admit(deps, ctx);
    const names = usableNames(deps, rc.caller);
    jsonBody(
      ctx,
      anthropicShape(ctx)
        ? { data: names.map(anthropicModel), has_more: false, first_id: names[0] ?? null, last_id: names.at(-1) ?? null }
        : { object: 'list', data: names.map(openAIModel) },
    );
  };
}

export function createModelHandler(deps: ModelRoutesDeps) {
  return async function one(ctx: Context): Promise<void> {
    const rc = await admit(deps, ctx);
    const id = String((ctx as Context & { params?: Record<string, string> }).params?.id ?? '');
    const resolved = deps.router.canonical(id);
    const exists = deps.targets.has(resolved) || deps.router.groupDefinitions().some((g) => g.name === resolved);
    const allowed = rc.caller?.allowed;
    // Unknown and not allowed read the same: a token learns nothing about names it may not use.
    if (!exists || (allowed && !allowed.has(id) && !allowed.has(resolved))) {
      throw new GatewayError('resolution', `model "${id}" is not available`);
    }
    rc.state.model = id;
    jsonBody(ctx, anthropicShape(ctx) ? anthropicModel(id) : openAIModel(id));
  };
}
