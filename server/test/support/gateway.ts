/**
 * Starts a real gateway in this process on ephemeral loopback ports from a
 * TOML string, capturing every log line, for tests that talk HTTP to it.
 */
import { parseConfigText } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import type { PipelineModule } from '../../src/public/stages.js';
import type { RoutingClock } from '../../src/routing/from-config.js';
import { createLogging } from '../../src/telemetry/logger.js';

export interface TestGateway {
  publicUrl: string;
  managementUrl: string;
  gateway: RunningGateway;
  /** Every JSON log line written so far (as written: after the secret scrubber). */
  logs: string[];
  /** The same lines before the scrubber: what the code tried to log. Scan these for secrets. */
  rawLogs: string[];
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  /** TOML without public_bind/management_bind (ephemeral loopback ports are added). */
  toml: string;
  env: Record<string, string>;
  graceMs?: number;
  /** Defaults to LOG_LEVEL=trace so tests see every line the gateway can write. */
  logLevel?: string;
  /** Wait for targets to load (default true). */
  waitLoaded?: boolean;
  /** Fake clock / jitter / sleep for the router. */
  routing?: RoutingClock;
  /** Export Node process metrics as `serve` does (off by default: tests start many gateways). */
  processMetrics?: boolean;
  /** Extra pipeline modules (after the registered ones). */
  modules?: readonly PipelineModule[];
}

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const logs: string[] = [];
  const rawLogs: string[] = [];
  const toml = `public_bind = "127.0.0.1:0"\nmanagement_bind = "127.0.0.1:0"\n${options.toml}`;
  const config = parseConfigText(toml);
  const env = { LOG_LEVEL: options.logLevel ?? 'trace', ...options.env };
  const logging = createLogging({
    env,
    destination: { write: (line: string) => void logs.push(line) },
    rawTap: (line) => void rawLogs.push(line),
  });
  const gateway = await startGateway({
    config,
    env,
    logging,
    graceMs: options.graceMs ?? 5_000,
    processMetrics: options.processMetrics ?? false,
    routing: options.routing,
    modules: options.modules,
  });
  if (options.waitLoaded !== false) await gateway.loaded;
  return {
    publicUrl: gateway.publicUrl,
    managementUrl: gateway.managementUrl,
    gateway,
    logs,
    rawLogs,
    stop: () => gateway.shutdown(),
  };
}

/** A minimal valid configuration body for tests; append targets/tokens as needed. */
export const BASE_TOML = `admin_password_env = "TEST_ADMIN_PASSWORD"
[security]
`;

export interface ChatGatewayTomlOptions {
  /** Top-level keys (they must come before any table). */
  top?: string;
  /** Replaces the empty `[security]` table, e.g. "[security.client_ip]\nsource = ...". */
  security?: string;
  /** Caller label of the token in env `T` (default "c"). */
  caller?: string;
  /** Extra keys of the `chat` target, e.g. "timeout_seconds = 2". */
  target?: string;
  /** Appended tables (more tokens, routes...). */
  extra?: string;
}

/**
 * The common test configuration: admin password in env TEST_ADMIN_PASSWORD,
 * one bearer token in env `T`, and one openai_compatible target `chat` on
 * `upstreamUrl` whose key is in env `UPSTREAM_KEY`.
 */
export function chatGatewayToml(upstreamUrl: string, o: ChatGatewayTomlOptions = {}): string {
  return `${o.top ?? ''}
admin_password_env = "TEST_ADMIN_PASSWORD"
${o.security ?? '[security]'}
${o.extra ?? ''}
[[tokens]]
env = "T"
caller = "${o.caller ?? 'c'}"
[[targets]]
name = "chat"
type = "openai_compatible"
model = "m"
base_url = "${upstreamUrl}"
token_env = "UPSTREAM_KEY"
${o.target ?? ''}
`;
}
