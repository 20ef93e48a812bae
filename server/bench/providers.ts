/**
 * Gateway overhead over a provider upstream: autocannon against a loopback
 * fake OpenAI-compatible upstream directly, then through the gateway's Sipp
 * route and its OpenAI route (`/v1/chat/completions`), finite and streaming
 * chat, at concurrency 1, 10 and 64, in one run; then RSS over 100k requests
 * after warm-up.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { rssOf, startBenchGateway, startUpstream } from './processes.js';

export interface Run {
  rps: number;
  mean: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
}

export function load(opts: {
  url: string;
  connections: number;
  seconds?: number;
  amount?: number;
  headers: Record<string, string>;
  body: string;
}): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: opts.url,
        method: 'POST',
        connections: opts.connections,
        pipelining: 1,
        ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? 5 }),
        headers: { 'content-type': 'application/json', ...opts.headers },
        body: opts.body,
      },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          rps: r.requests.average,
          mean: r.latency.mean,
          p50: r.latency.p50,
          p99: r.latency.p99,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          total: r.requests.total,
        });
      },
    );
  });
}

const fmt = (n: number, d = 2) => n.toFixed(d);

/**
 * CPU seconds (user + system) a process has used, from /proc (clock ticks of
 * 10 ms). Per-request CPU cost holds up on a shared, busy host where
 * throughput and latency do not.
 */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `load` and returns it with the gateway's CPU microseconds per request. */
export async function measured(pid: number, run: () => Promise<Run>): Promise<Run & { cpuUs: number }> {
  const before = cpuSecondsOf(pid);
  const r = await run();
  return { ...r, cpuUs: ((cpuSecondsOf(pid) - before) * 1e6) / Math.max(1, r.total) };
}

export async function benchProviders(options: { seconds?: number; rssRequests?: number } = {}): Promise<string> {
  const seconds = options.seconds ?? 5;
  const rssRequests = options.rssRequests ?? 100_000;
  const upstream = await startUpstream();
  const token = 'bench-token-0123456789';
  const gateway = await startBenchGateway(
    `[[targets]]
name = "chat"
type = "openai_compatible"
model = "bench-model"
base_url = "${upstream.url}"
token_env = "BENCH_UPSTREAM"
`,
    token,
    { BENCH_UPSTREAM: upstream.apiKey },
  );
  const messages = [{ role: 'user', content: 'Say hello to the benchmark.' }];
  const scenarios = [
    { name: 'finite chat', stream: false },
    { name: 'streaming chat', stream: true },
  ];
  const rows: string[] = [];
  const openaiRows: string[] = [];
  try {
    const direct = (stream: boolean) => ({
      url: `${upstream.url}/chat/completions`,
      headers: { authorization: `Bearer ${upstream.apiKey}` },
      body: JSON.stringify({
        model: 'bench-model',
        messages,
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      }),
    });
    const viaGateway = (stream: boolean) => ({
      url: `http://127.0.0.1:${gateway.port}/v1/chat`,
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ model: 'chat', messages, stream }),
    });
    const viaOpenAIRoute = (stream: boolean) => ({
      url: `http://127.0.0.1:${gateway.port}/v1/chat/completions`,
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({
        model: 'chat',
        messages,
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      }),
    });
    // Warm-up: JIT, connection pools.
    await load({ ...viaGateway(false), connections: 10, seconds: 2 });
    await load({ ...viaGateway(true), connections: 10, seconds: 1 });
    await load({ ...viaOpenAIRoute(false), connections: 10, seconds: 1 });
    await load({ ...viaOpenAIRoute(true), connections: 10, seconds: 1 });

    for (const s of scenarios) {
      for (const c of [1, 10, 64]) {
        process.stderr.write(`bench: ${s.name}, concurrency ${c}\n`);
        const d = await load({ ...direct(s.stream), connections: c, seconds });
        const pid = gateway.proc.pid!;
        const g = await measured(pid, () => load({ ...viaGateway(s.stream), connections: c, seconds }));
        const o = await measured(pid, () => load({ ...viaOpenAIRoute(s.stream), connections: c, seconds }));
        // Closed loop: mean time per request = connections / throughput. autocannon's
        // own latency figures have ~1 ms resolution, too coarse for sub-ms overhead.
        const dMean = (1000 * c) / d.rps;
        const gMean = (1000 * c) / g.rps;
        rows.push(
          `| ${s.name} | ${c} | ${fmt(d.rps, 0)} | ${fmt(g.rps, 0)} | ${fmt(g.rps / d.rps)} | ${fmt(dMean, 3)} / ${fmt(gMean, 3)} | +${fmt(gMean - dMean, 3)} | ${d.p50} / ${g.p50} | ${d.p99} / ${g.p99} | ${d.errors + d.non2xx} / ${g.errors + g.non2xx} |`,
        );
        const oMean = (1000 * c) / o.rps;
        const added = oMean - gMean;
        openaiRows.push(
          `| ${s.name} | ${c} | ${fmt(g.rps, 0)} | ${fmt(o.rps, 0)} | ${fmt(o.rps / g.rps)} | ${fmt(gMean, 3)} / ${fmt(oMean, 3)} | ${added >= 0 ? '+' : ''}${fmt(added, 3)} | ${fmt(g.cpuUs, 0)} / ${fmt(o.cpuUs, 0)} (${fmt(o.cpuUs / g.cpuUs)}) | ${g.p99} / ${o.p99} | ${g.errors + g.non2xx} / ${o.errors + o.non2xx} |`,
        );
      }
    }

    process.stderr.write(`bench: RSS over ${rssRequests} requests\n`);
    await load({ ...viaGateway(false), connections: 10, amount: 20_000 });
    const rssBefore = rssOf(gateway.proc.pid!);
    const rssRun = await load({ ...viaGateway(false), connections: 10, amount: rssRequests });
    const rssAfter = rssOf(gateway.proc.pid!);
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    return [
      '### Provider path: gateway vs direct (fake OpenAI-compatible upstream on loopback)',
      '',
      `Each cell measured in the same run; ${seconds} s per measurement; autocannon, upstream and gateway are separate processes on the same cores. Latencies in ms (direct / gateway); mean latency is connections ÷ throughput (closed loop), p50/p99 are autocannon's (1 ms resolution).`,
      '',
      '| scenario | concurrency | direct req/s | gateway req/s | ratio | mean latency | added mean | p50 | p99 | errors |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      '### OpenAI route vs Sipp route (same gateway, same fake upstream, same run)',
      '',
      "`/v1/chat/completions` (with `stream_options.include_usage` when streaming) against `/v1/chat`. Latencies in ms (Sipp / OpenAI). Gateway CPU is the gateway process's user + system CPU time per request (µs, Sipp / OpenAI, ratio), the figure that stays meaningful on a busy shared host.",
      '',
      '| scenario | concurrency | Sipp req/s | OpenAI req/s | ratio | mean latency | added mean | gateway CPU µs/req | p99 | errors |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...openaiRows,
      '',
      `RSS of the gateway process over ${rssRun.total} finite requests after a 20k-request warm-up: ${mb(rssBefore)} MB → ${mb(rssAfter)} MB (growth ${mb(rssAfter - rssBefore)} MB; errors ${rssRun.errors + rssRun.non2xx}).`,
      '',
    ].join('\n');
  } finally {
    await gateway.stop();
    await upstream.stop();
  }
}
