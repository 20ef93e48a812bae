/**
 * The cost of the redis state backend: finite chat through one gateway with
 * rate limiting on, buckets in process memory vs in a shared Redis (one Lua
 * round trip per request), at concurrency 10 and 64, in the same run. The
 * limit is set high enough that nothing is refused: only the bucket's cost is
 * measured. Needs Debian's redis-server.
 */
import { startRedis } from '../test/support/redis.js';
import { startBenchGateway, startUpstream } from './processes.js';
import { load, type Run } from './providers.js';

const ROUNDS = 3;

const fmt = (n: number, d = 2) => n.toFixed(d);

export async function benchStateBackends(options: { seconds?: number } = {}): Promise<string> {
  const seconds = options.seconds ?? 5;
  const [upstream, redis] = await Promise.all([startUpstream(), startRedis()]);
  const token = 'bench-token-0123456789';
  const toml = (state: string) => `[[targets]]
name = "chat"
type = "openai_compatible"
model = "bench-model"
base_url = "${upstream.url}"
token_env = "BENCH_UPSTREAM"
[security.rate_limit]
enabled = true
requests_per_minute = 1000000
burst = 1000000
[state]
${state}
`;
  const env = { BENCH_UPSTREAM: upstream.apiKey, BENCH_REDIS_URL: redis.url };
  const memory = await startBenchGateway(toml('backend = "memory"'), token, env);
  const shared = await startBenchGateway(
    toml('backend = "redis"\nurl_env = "BENCH_REDIS_URL"\nkey_prefix = "bench:"'),
    token,
    env,
  );
  const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Say hello to the benchmark.' }] });
  const via = (port: number) => ({
    url: `http://127.0.0.1:${port}/v1/chat`,
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  const rows: string[] = [];
  try {
    for (const g of [memory, shared]) await load({ ...via(g.port), connections: 10, seconds: 2 });
    for (const c of [10, 64]) {
      process.stderr.write(`bench: state backends, concurrency ${c}\n`);
      // Interleaved rounds, best of each: load from other processes on the
      // machine drifts over seconds, and drift should not pick the winner.
      const best = (runs: Run[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
      const ms: Run[] = [];
      const rs: Run[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        ms.push(await load({ ...via(memory.port), connections: c, seconds: seconds / ROUNDS }));
        rs.push(await load({ ...via(shared.port), connections: c, seconds: seconds / ROUNDS }));
      }
      const m = best(ms);
      const r = best(rs);
      const mMean = (1000 * c) / m.rps;
      const rMean = (1000 * c) / r.rps;
      rows.push(
        `| finite chat | ${c} | ${fmt(m.rps, 0)} | ${fmt(r.rps, 0)} | ${fmt(r.rps / m.rps)} | ${fmt(mMean, 3)} / ${fmt(rMean, 3)} | ${rMean >= mMean ? '+' : ''}${fmt(rMean - mMean, 3)} | ${m.errors + m.non2xx} / ${r.errors + r.non2xx} |`,
      );
    }
  } finally {
    await Promise.all([memory.stop(), shared.stop()]);
    await Promise.all([upstream.stop(), redis.stop()]);
  }
  return [
    '### Rate limiting: memory vs redis state backend (one replica, loopback Redis)',
    '',
    `Same run, ${seconds} s per backend and concurrency in ${ROUNDS} interleaved rounds (best round shown), rate limiting on (limit high enough that nothing is refused). Mean latency in ms is connections ÷ throughput (closed loop), memory / redis. Aim (issue #12): at most +0.2 ms mean and at most 15% throughput.`,
    '',
    '| scenario | concurrency | memory req/s | redis req/s | ratio | mean latency | added mean | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
