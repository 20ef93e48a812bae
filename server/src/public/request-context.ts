/**
 * The typed per-request context of the public listener: what the pipeline and
 * its modules (stages.ts) know about one request as it moves through the
 * stages. app.ts creates it first thing and binds it to the Koa context;
 * everything after reads it through `requestContext(ctx)` instead of an
 * untyped `ctx.state` field. See docs/architecture.md#request-context.
 */
import type { Api, Operation } from '@sipp/shared';
import type { Context } from 'koa';
import type { IncomingHttpHeaders } from 'node:http';
import type { Route } from '../routing/router.js';
import type { Caller } from '../security/bearer.js';
import type { ParsedRequest, Surface } from '../surfaces/surface.js';
import type { RequestState } from './request-state.js';

/** A typed key for a value a module keeps on the request (e.g. a budget reservation). */
export interface Slot<T> {
  readonly name: string;
  /** Type carrier only; never set. */
  readonly __type?: T;
}

export function slot<T>(name: string): Slot<T> {
  return { name };
}

export class RequestContext {
  /** The presented credential as an `Authorization` value (`Bearer …`), set before the body stage. */
  credential: string | undefined = undefined;
  /** Set by the token module (before the body). */
  caller: Caller | null = null;
  /** The parsed request (before the run and later); null on listing routes and before the body. */
  request: ParsedRequest | null = null;
  /** How the request's surface names a neutral field (capability refusals). */
  fields: Pick<Surface<any>, 'field'> | null = null;
  /** The resolved `model` (target or group, with the members that can serve), set before the run. */
  route: Route | null = null;
  // Both made on first use: most requests set no slot and hold nothing (docs/architecture.md#request-context).
  private slots: Map<Slot<unknown>, unknown> | null = null;
  private holds: Array<() => void> | null = null;

  /**
   * `state` is the bookkeeping that becomes the RequestRecord (request-state.ts);
   * `headers` are the request's (read-only; e.g. a tracer's `traceparent`);
   * `routePath` the route template it matched (or its path when none did).
   */
  constructor(
    readonly state: RequestState,
    readonly headers: IncomingHttpHeaders,
    readonly routePath: string = '',
  ) {}

  get id(): string {
    return this.state.id;
  }
  get api(): Api {
    return this.state.api;
  }
  get operation(): Operation | null {
    return this.state.operation;
  }

  get<T>(key: Slot<T>): T | undefined {
    return this.slots?.get(key) as T | undefined;
  }
  set<T>(key: Slot<T>, value: T): void {
    (this.slots ??= new Map()).set(key, value);
  }

  /**
   * Keeps `release` until the answer is complete: after the last stream frame
   * is written, or when the handler ends (success, error or disconnect),
   * whichever comes first. Each release runs once, latest hold first.
   */
  hold(release: () => void): void {
    (this.holds ??= []).push(release);
  }

  releaseHolds(): void {
    const holds = this.holds;
    if (holds === null) return;
    this.holds = null;
    for (let i = holds.length - 1; i >= 0; i--) holds[i]!();
  }
}

/** A request context in the run stage: the body is parsed. */
export type RunContext = RequestContext & { readonly request: ParsedRequest; readonly fields: Pick<Surface<any>, 'field'> };

/**
 * The binding lives on the Koa context itself under a private symbol, not in a
 * WeakMap: a WeakMap entry per request is an ephemeron the garbage collector
 * must trace specially, a cost paid on every request for nothing a symbol key
 * does not give (no other module can name the key).
 */
const BOUND = Symbol('sipp.requestContext');
type Bound = Context & { [BOUND]?: RequestContext };

export function bindRequestContext(ctx: Context, rc: RequestContext): void {
  (ctx as Bound)[BOUND] = rc;
}

/** The request context app.ts bound to `ctx`; throws when there is none (a handler mounted outside the public app). */
export function requestContext(ctx: Context): RequestContext {
  const rc = (ctx as Bound)[BOUND];
  if (!rc) throw new Error('no request context bound to this Koa context');
  return rc;
}

/** Like requestContext, for code that may also run before the binding (error rendering). */
export function findRequestContext(ctx: Context): RequestContext | undefined {
  return (ctx as Bound)[BOUND];
}
