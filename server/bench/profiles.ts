/**
 * Feature profiles of the overhead bench (overhead.ts): config variants of
 * this build, each measured as one more row beside the bare gateway, so the
 * cost of a feature reads as CPU per request against the bare path.
 * `BENCH_PROFILES=redis,tracing,keys` (the default) picks them; `BENCH_PROFILES=`
 * runs none.
 *
 * A profile is TOML appended after the bench target's table (given the
 * services it needs, started once per run), and optionally a setup step that
 * runs against the started gateway and may hand back the bearer token the
 * rows send (a managed key, say).
 *
 * `keys`: a managed key with rpm/tpm limits and a budget, a priced target and
 * usage rows in the embedded database (`BENCH_PROFILES=redis,tracing,keys`).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type TestRedis } from '../test/support/redis.js';

const ADMIN_API_TOKEN = 'bench-admin-api-token-0123456789';

export interface Services {
  /** redis://… of a loopback redis-server. */
  redisUrl(): Promise<string>;
  /** Base URL of an OTLP/HTTP sink that accepts (and drops) every export. */
  otlpUrl(): Promise<string>;
  stop(): Promise<void>;
}

export interface Profile {
  name: string;
  /** The row's label. */
  label: string;
  /** TOML after the target table; null when this build has no such feature yet. */
  toml: ((svc: Services) => Promise<string>) | null;
  /** Env the gateway needs for it (e.g. the variable the TOML names). */
  env?: (svc: Services) => Promise<Record<string, string>>;
  setup?: (gw: { port: number; mgmt: number }) => Promise<{ token?: string }>;
  /** Node/V8 flags for the gateway process (e.g. heap settings). */
  nodeArgs?: readonly string[];
}

export const PROFILES: readonly Profile[] = [
  {
    name: 'redis',
    label: 'Redis-shared rate limits',
    // Limits high enough that nothing is refused: only the shared bucket's cost (one EVALSHA per request) is measured.
    // A budget of 1 s: on a loaded machine the 50 ms default trips the breaker, and the row then measures the
    // local fallback (docs/operations.md), not Redis.
    toml: async () => `[security.rate_limit]
enabled = true
requests_per_minute = 1000000
burst = 1000000
[state]
backend = "redis"
url_env = "BENCH_REDIS_URL"
key_prefix = "bench:"
command_budget_ms = 1000
`,
    env: async (svc) => ({ BENCH_REDIS_URL: await svc.redisUrl() }),
  },
  {
    name: 'tracing',
    label: 'tracing at 10 %',
    toml: async (svc) => `[telemetry.traces]
enabled = true
endpoint = "${await svc.otlpUrl()}"
sampling_ratio = 0.1
export_delay_ms = 1000
`,
  },
  {
    // A managed key with rpm/tpm limits and a month's budget far above what the bench spends, a priced
    // target, and usage rows written to the embedded database: the cost of authentication by key,
    // reservation and settlement, and the usage writer (docs/keys.md, docs/budgets.md, docs/usage.md).
    name: 'keys',
    label: 'keys + budgets + usage rows',
    toml: async () => `pricing = { input_per_mtok = 1, output_per_mtok = 2 }
[database]
backend = "embedded"
data_dir = "${mkdtempSync(join(tmpdir(), 'sipp-bench-db-')).replaceAll('\\', '/')}"
[admin]
api_token_env = "BENCH_ADMIN_API_TOKEN"
`,
    env: async () => ({ BENCH_ADMIN_API_TOKEN: ADMIN_API_TOKEN }),
    async setup(gw) {
      const res = await fetch(`http://127.0.0.1:${gw.mgmt}/admin/api/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'bench',
          caller: 'bench-keys',
          rpm: 10_000_000,
          tpm: 100_000_000,
          budget: { usd: 1_000_000, period: 'month' },
        }),
      });
      if (res.status !== 201) throw new Error(`creating the bench key: ${res.status} ${await res.text()}`);
      const { secret } = (await res.json()) as { secret: string };
      return { token: secret };
    },
  },
  // The request log line's share: the same gateway with LOG_LEVEL=silent (docs/operations.md#logs).
  { name: 'silent', label: 'LOG_LEVEL=silent', toml: async () => '', env: async () => ({ LOG_LEVEL: 'silent' }) },
  // Young-generation sizes (docs/operations.md#memory): idle and loaded RSS against CPU per request.
  { name: 'semi1', label: 'node --max-semi-space-size=1', toml: async () => '', nodeArgs: ['--max-semi-space-size=1'] },
  { name: 'semi4', label: 'node --max-semi-space-size=4', toml: async () => '', nodeArgs: ['--max-semi-space-size=4'] },
  { name: 'semi8', label: 'node --max-semi-space-size=8', toml: async () => '', nodeArgs: ['--max-semi-space-size=8'] },
];

export function selectedProfiles(): { run: Profile[]; notes: string[] } {
  const names = (process.env.BENCH_PROFILES ?? 'redis,tracing,keys').split(',').filter(Boolean);
  const run: Profile[] = [];
  const notes: string[] = [];
  for (const name of names) {
    const p = PROFILES.find((x) => x.name === name);
    if (!p) notes.push(`profile "${name}": unknown (known: ${PROFILES.map((x) => x.name).join(', ')})`);
    else if (!p.toml) notes.push(`profile "${name}" (${p.label}): not defined on this build yet (server/bench/profiles.ts)`);
    else run.push(p);
  }
  return { run, notes };
}

export function services(): Services {
  let redis: Promise<TestRedis> | null = null;
  let sink: Promise<Server> | null = null;
  return {
    async redisUrl() {
      redis ??= startRedis();
      return (await redis).url;
    },
    async otlpUrl() {
      sink ??= new Promise((resolve) => {
        const server = createServer((req, res) => {
          req.resume();
          req.on('end', () => res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end());
        });
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
      return `http://127.0.0.1:${((await sink).address() as AddressInfo).port}`;
    },
    async stop() {
      if (redis) await (await redis).stop();
      if (sink) {
        const s = await sink;
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}
