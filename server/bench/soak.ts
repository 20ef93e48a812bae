/**
 * `npm run soak`: a real gateway process on loopback under steady mixed load
 * for SOAK_SECONDS (default 120; at most SOAK_MAX_REQUESTS, default 500,000):
 * finite and streaming chat through the OpenAI, Anthropic and Sipp routes to a
 * fake OpenAI-compatible and a fake Anthropic upstream (their own processes),
 * plus one client over its rate limit (429) and refused callers (401, 403).
 * Samples gateway RSS every 2 s and reports its slope (MB per minute, least
 * squares after SOAK_WARMUP_SECONDS, default a quarter of the run, at most 30),
 * the 5xx count, the event-loop delay max and the requests done. Exits 1 on a
 * 5xx, an unexpected status, a failed /healthz probe or a gateway that died.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { mb, rssSlopeMbPerMin, startMonitor } from './monitor.js';
import { startBenchGateway, startUpstream } from './processes.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
const MAX_REQUESTS = Number(process.env.SOAK_MAX_REQUESTS ?? 500_000);
const WARMUP = Number(process.env.SOAK_WARMUP_SECONDS ?? Math.min(30, SECONDS / 4));
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);

const token = 'soak-main-token-3e7a9c1b5d2f';
const restricted = 'soak-restricted-token-6f4d2b8a0c1e';
const upOpenAI = await startUpstream('openai');
const upAnthropic = await startUpstream('anthropic');
const gateway = await startBenchGateway(
  `[security.client_ip]
source = "x_forwarded_for"
trusted_proxy_cidrs = ["127.0.0.1/32"]
[security.rate_limit]
enabled = true
requests_per_minute = 60
burst = 5
[[tokens]]
env = "SOAK_RESTRICTED"
caller = "restricted"
targets = ["oa"]
[[targets]]
name = "oa"
type = "openai_compatible"
model = "bench-model"
base_url = "${upOpenAI.url}"
token_env = "SOAK_OPENAI_KEY"
[[targets]]
name = "an"
type = "anthropic"
model = "claude-bench"
base_url = "${upAnthropic.url}"
api_key_env = "SOAK_ANTHROPIC_KEY"
`,
  token,
  {
    BENCH_ADMIN: 'soak-admin-password-1a2b3c4d5e',
    SOAK_RESTRICTED: restricted,
    SOAK_OPENAI_KEY: upOpenAI.apiKey,
    SOAK_ANTHROPIC_KEY: upAnthropic.apiKey,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  },
);
// A crash of this script must not leave the children running.
process.on('exit', () => [gateway, upOpenAI, upAnthropic].forEach((c) => c.proc.kill('SIGKILL')));

interface Kind {
  name: string;
  weight: number;
  path: string;
  body: string;
  auth?: string;
  /** Client address (X-Forwarded-For from the trusted loopback proxy); undefined = rotate over 4,096 well-behaved clients (each well under its limit). */
  client?: string;
  expect: number;
}
const chat = [{ role: 'user', content: 'Say hello to the soak.' }];
const KINDS: Kind[] = [
  {
    name: 'OpenAI finite',
    weight: 25,
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'oa', messages: chat }),
    expect: 200,
  },
  {
    name: 'OpenAI streaming',
    weight: 20,
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'oa', messages: chat, stream: true, stream_options: { include_usage: true } }),
    expect: 200,
  },
  {
    name: 'Sipp finite (Anthropic target)',
    weight: 15,
    path: '/v1/chat',
    body: JSON.stringify({ model: 'an', messages: chat }),
    expect: 200,
  },
  {
    name: 'Sipp streaming',
    weight: 15,
    path: '/v1/chat',
    body: JSON.stringify({ model: 'oa', messages: chat, stream: true }),
    expect: 200,
  },
  {
    name: 'Anthropic streaming',
    weight: 10,
    path: '/v1/messages',
    body: JSON.stringify({ model: 'an', max_tokens: 64, messages: chat, stream: true }),
    expect: 200,
  },
  {
    name: 'over its rate limit',
    weight: 8,
    path: '/v1/chat',
    body: JSON.stringify({ model: 'oa', messages: chat }),
    client: '10.66.0.1',
    expect: 429,
  },
  {
    name: 'restricted token, other target',
    weight: 4,
    path: '/v1/chat',
    body: JSON.stringify({ model: 'an', messages: chat }),
    auth: restricted,
    expect: 403,
  },
  {
    name: 'unknown token',
    weight: 3,
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'oa', messages: chat }),
    auth: 'soak-unknown-token-000000000000',
    expect: 401,
  },
];
const totalWeight = KINDS.reduce((a, k) => a + k.weight, 0);
const stats = new Map<string, { done: number; byStatus: Map<number, number>; errors: number }>(
  KINDS.map((k) => [k.name, { done: 0, byStatus: new Map(), errors: 0 }]),
);

const pid = gateway.proc.pid!;
const monitor = startMonitor(pid, gateway.mgmt, { rssEveryMs: 2_000 });
const started = Date.now();
const end = started + SECONDS * 1000;
let sent = 0;
let fivexx = 0;
let unexpected = 0;
let counter = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end && sent < MAX_REQUESTS) {
      const n = sent++;
      // Deterministic interleaving of the kinds by weight (no PRNG needed).
      let slot = (n * 7919) % totalWeight;
      const kind = KINDS.find((k) => (slot -= k.weight) < 0)!;
      const s = stats.get(kind.name)!;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        authorization: `Bearer ${kind.auth ?? token}`,
        'x-forwarded-for': kind.client ?? `10.1.${(counter >> 8) & 15}.${counter++ & 255}`,
      };
      if (kind.path === '/v1/messages') headers['anthropic-version'] = '2023-06-01';
      try {
        const res = await fetch(`http://127.0.0.1:${gateway.port}${kind.path}`, {
          method: 'POST',
          headers,
          body: kind.body,
          signal: AbortSignal.timeout(60_000),
        });
        await res.arrayBuffer();
        s.byStatus.set(res.status, (s.byStatus.get(res.status) ?? 0) + 1);
        if (res.status >= 500) fivexx++;
        // The abusive client may get a 200 whenever its bucket has refilled a token.
        if (res.status !== kind.expect && !(kind.expect === 429 && res.status === 200)) unexpected++;
      } catch {
        s.errors++;
      }
      s.done++;
    }
  }),
);
const elapsed = (Date.now() - started) / 1000;
const mon = await monitor.stop();
const alive = gateway.proc.exitCode === null;
await gateway.stop();
await upOpenAI.stop();
await upAnthropic.stop();

const done = [...stats.values()].reduce((a, s) => a + s.done, 0);
const errors = [...stats.values()].reduce((a, s) => a + s.errors, 0);
const slope = rssSlopeMbPerMin(mon.rss, WARMUP);
const heapSlope = rssSlopeMbPerMin(mon.heapUsed, WARMUP);
const heapAfter = mon.heapUsed.filter((s) => s.t >= WARMUP);
const after = mon.rss.filter((s) => s.t >= WARMUP);
const failed = fivexx > 0 || unexpected > 0 || errors > 0 || mon.healthFailures > 0 || !alive;
const report = [
  `## Soak (${new Date().toISOString()})`,
  '',
  `${elapsed.toFixed(0)} s, concurrency ${CONCURRENCY}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(
      ' ',
    )}, Node ${process.version}. Gateway (rate limit 60/min, burst 5, per client; the well-behaved load is spread over 4,096 client addresses), fake OpenAI-compatible and fake Anthropic upstreams are separate processes on loopback.`,
  '',
  `**Result: ${failed ? 'FAIL' : 'pass'}** — ${done} requests (${(done / elapsed).toFixed(0)} req/s), 5xx ${fivexx}, unexpected status ${unexpected}, transport errors ${errors}.`,
  '',
  '| kind | requests | statuses |',
  '| --- | --- | --- |',
  ...KINDS.map((k) => {
    const s = stats.get(k.name)!;
    return `| ${k.name} (expect ${k.expect}) | ${s.done} | ${[...s.byStatus].map(([st, c]) => `${st}: ${c}`).join(', ')}${s.errors ? `, errors: ${s.errors}` : ''} |`;
  }),
  '',
  `Gateway RSS: ${mb(mon.rss[0]?.bytes ?? 0)} MB at start, ${mb(after[0]?.bytes ?? 0)} MB after the ${WARMUP.toFixed(0)} s warm-up, ${mb(mon.rss[mon.rss.length - 1]?.bytes ?? 0)} MB at the end (peak ${mb(Math.max(...mon.rss.map((s) => s.bytes)))} MB; ${mon.rss.length} samples). RSS slope after warm-up (least squares): ${slope === null ? 'n/a' : `${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`}. V8 heap used after warm-up: ${mb(heapAfter[0]?.bytes ?? 0)} → ${mb(heapAfter[heapAfter.length - 1]?.bytes ?? 0)} MB, slope ${heapSlope === null ? 'n/a' : `${heapSlope >= 0 ? '+' : ''}${heapSlope.toFixed(2)} MB/min`} (${heapAfter.length} samples, taken whenever /metrics is scraped, so between collections).`,
  '',
  `Event-loop delay max (the gateway's own \`nodejs_eventloop_lag_max_seconds\`): ${mon.eventLoopMaxMs === null ? 'n/a' : `${mon.eventLoopMaxMs.toFixed(1)} ms`}. /healthz: ${mon.healthProbes} probes, ${mon.healthFailures} failed, slowest ${mon.healthMaxMs.toFixed(1)} ms. Gateway still running at the end: ${alive ? 'yes' : 'NO'}.`,
  '',
].join('\n');
process.stdout.write(`${report}\n`);
mkdirSync('bench-results', { recursive: true });
writeFileSync(join('bench-results', 'soak.md'), report);
process.exitCode = failed ? 1 : 0;
