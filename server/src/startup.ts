/**
 * The steps startGateway (gateway.ts) is made of, each small enough to read
 * on its own: the runtime controls, the targets (created, then loaded), the
 * management index document, and the one shutdown order (Teardown).
 */
import { APIS, OPERATIONS, type IndexDocument } from '@sipp/shared';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from './config/schema.js';
import { MIN_SECRET_LENGTH } from './config/secret-policy.js';
import { StartupError } from './errors.js';
import { closeServer } from './listen.js';
import { MANAGEMENT_ROUTE_KEYS, pathsOf, PUBLIC_ROUTE_KEYS } from './routes.js';
import { Admission } from './security/admission.js';
import { Blocklist } from './security/blocklist.js';
import type { Controls } from './security/controls.js';
import { RateLimiter } from './security/rate-limit.js';
import { createTarget } from './targets/registry.js';
import type { Target } from './targets/target.js';
import { VERSION } from './version.js';

/** The blocklist, rate limiter and admission, from their TOML settings (the admin API and [state] change them later). */
export function createControls(config: GatewayConfig): Controls {
  const rl = config.security.rate_limit;
  return {
    blocklist: new Blocklist(),
    rateLimiter: new RateLimiter({ enabled: rl.enabled, requestsPerMinute: rl.requests_per_minute, burst: rl.burst }),
    admission: new Admission(config.max_concurrent_requests ?? null),
  };
}

/** Creates every target (no model loaded, no request sent); on a failure closes those already created. */
export async function createTargets(
  config: GatewayConfig,
  deps: { log: Logger; registry: Registry; secret: (env: string) => string },
): Promise<Map<string, Target>> {
  const targets = new Map<string, Target>();
  for (const tc of config.targets) {
    try {
      targets.set(
        tc.name,
        await createTarget(tc, { log: deps.log.child({ target: tc.name }), registry: deps.registry, secret: deps.secret }),
      );
    } catch (err) {
      await closeTargets(targets);
      const message = (err as Error).message;
      throw new StartupError(message.includes(`"${tc.name}"`) ? message : `target "${tc.name}" cannot be created: ${message}`);
    }
  }
  return targets;
}

/** Loads every target in order (readiness waits for this); rejects with the first failure. */
export async function loadTargets(targets: ReadonlyMap<string, Target>, log: Logger): Promise<void> {
  const began = performance.now();
  for (const t of targets.values()) {
    try {
      await t.load();
    } catch (err) {
      const message = (err as Error).message;
      throw new StartupError(message.includes(`"${t.name}"`) ? message : `target "${t.name}" failed to load: ${message}`);
    }
  }
  log.info({ targets: targets.size, ms: Math.round(performance.now() - began) }, 'targets loaded; ready');
}

async function closeTargets(targets: ReadonlyMap<string, Target>): Promise<void> {
  await Promise.allSettled([...targets.values()].map((t) => t.close()));
}

/** The management index document (docs/operations.md): capabilities, APIs, the route table's paths, targets. */
export function indexDocument(config: GatewayConfig, targets: ReadonlyMap<string, Target>): IndexDocument {
  return {
    name: 'sipp-gateway',
    version: VERSION,
    capabilities: [...OPERATIONS],
    apis: [...APIS],
    routes: { public: pathsOf(PUBLIC_ROUTE_KEYS, config.routes), management: pathsOf(MANAGEMENT_ROUTE_KEYS, config.routes) },
    targets: [...targets.values()].map((t) => {
      const d = t.describe();
      return {
        name: d.name,
        type: d.type,
        operations: d.operations,
        ...(d.backend ? { backend: { requested: d.backend.requested, selected: d.backend.selected } } : {}),
      };
    }),
  };
}

/**
 * What startup has opened, closed in the one shutdown order: listeners, the
 * admin module, targets, the [state] store, then the usage writer and the
 * trace exporter (every request has written its row and ended its spans by
 * then: they flush, or the writer spools). A startup
 * failure closes what it got to; shutdown (after the drain) closes everything.
 * Parts not yet opened are skipped.
 */
export class Teardown {
  readonly servers: Server[] = [];
  admin: { close(): void } | null = null;
  targets: ReadonlyMap<string, Target> | null = null;
  state: { close(): Promise<void> } | null = null;
  usage: { close(): Promise<void> } | null = null;
  keys: { close(): void } | null = null;
  tracing: { shutdown(): Promise<void> } | null = null;

  async close(): Promise<void> {
    await Promise.all(this.servers.map(closeServer));
    this.admin?.close();
    if (this.targets) await closeTargets(this.targets);
    await this.state?.close();
    this.keys?.close();
    // Every request has written its row and ended its spans by now: flush both.
    await Promise.all([this.usage?.close(), this.tracing?.shutdown().catch(() => {})]);
  }

  /** `step`'s value; when it fails, closes what is open so far and rethrows. */
  async unwinding<T>(step: Promise<T>): Promise<T> {
    try {
      return await step;
    } catch (err) {
      await this.close();
      throw err;
    }
  }
}

/** A connection URL (Redis, PostgreSQL) and its password, for the log redactor (neither is ever logged on purpose). */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [url, decodeURIComponent(u.password)].filter((v) => v.length >= MIN_SECRET_LENGTH);
  } catch {
    return [url].filter((v) => v.length >= MIN_SECRET_LENGTH);
  }
}
