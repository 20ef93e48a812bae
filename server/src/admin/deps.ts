/**
 * What the admin dashboard module gets from the gateway core. The admin module
 * reads state through these objects and changes runtime controls through them;
 * it never sees bearer tokens or provider credentials.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BudgetService } from '../budgets/service.js';
import type { GatewayConfig } from '../config/schema.js';
import type { KeyManager } from '../keys/manage.js';
import type { Router } from '../routing/router.js';
import type { Controls } from '../security/controls.js';
import type { GatewayState } from '../state/index.js';
import type { TargetDescription } from '../targets/target.js';
import type { UsageAccess } from './spend.js';

export interface AdminDeps {
  config: GatewayConfig;
  version: string;
  /** Epoch ms when serve started. */
  startedAt: number;
  /** The admin password value (compare in constant time; never return or log it). */
  adminPassword: string;
  /** The automation bearer token (`[admin] api_token_env`; compare in constant time, never return or log it), or null. */
  adminApiToken?: string | null;
  /** Managed keys (docs/keys.md); null without `[database]`. */
  keys?: KeyManager | null;
  /** The callers of the managed keys in force (the replica's key cache; the Callers view lists them). */
  keyCallers?: () => Iterable<string>;
  log: Logger;
  registry: Registry;
  /** The blocklist, rate limiter and admission (the admin API changes them). */
  controls: Controls;
  /** Fresh descriptions of every target (runtime stats included). */
  targets(): TargetDescription[];
  /** Groups, circuits and the drain control. */
  router: Router;
  /** Whether the gateway is ready (all targets loaded, not draining). */
  ready(): boolean;
  /** The [state] store: runtime-control changes are stored (and shared) through it; sessions and the fleet view live there. */
  state: GatewayState;
  /** Budgets (caller budgets, spend, threshold alerts; docs/budgets.md); absent in tests that build the admin alone. */
  budgets?: BudgetService;
  /**
   * Dashboard asset directory (the value of SIPP_GATEWAY_ADMIN_ASSETS_DIR from
   * the gateway's env). Optional: when absent the admin module reads
   * process.env, then falls back to admin-web/dist beside the server package.
   */
  assetsDir?: string;
  /** The usage database (docs/usage.md#spend) when `[database]` is configured: spend and the usage export read it. */
  usage?: UsageAccess | null;
}
