/**
 * The Responses API route (`/v1/responses`) against the Chat Completions route
 * (`/v1/chat/completions`) on the same gateway and fake OpenAI-compatible
 * upstream, finite and streaming, at concurrency 1, 10 and 64
 * (docs/api.md#responses). Responses requests use `store: false` (what Codex
 * sends) and, in a second pair of rows, the default `store: true` (each
 * response kept in the memory store).
 */
import { startBenchGateway, startUpstream } from './processes.js';
import { load, measured } from './providers.js';

const fmt = (n: number, d = 2) => n.toFixed(d);

export async function benchResponses(options: { seconds?: number } = {}): Promise<string> {
  const seconds = options.seconds ?? 5;
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
  const text = 'Say hello to the benchmark.';
  const headers = { authorization: `Bearer ${token}` };
  const chat = (stream: boolean) => ({
    url: `http://127.0.0.1:${gateway.port}/v1/chat/completions`,
    headers,
    body: JSON.stringify({
      model: 'chat',
      messages: [{ role: 'user', content: text }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  });
  const responses = (stream: boolean, store: boolean) => ({
    url: `http://127.0.0.1:${gateway.port}/v1/responses`,
    headers,
    body: JSON.stringify({ model: 'chat', input: text, stream, store }),
  });
  const scenarios = [
    { name: 'finite, store: false', stream: false, store: false },
    { name: 'streaming, store: false', stream: true, store: false },
    { name: 'finite, store: true', stream: false, store: true },
    { name: 'streaming, store: true', stream: true, store: true },
  ];
  const rows: string[] = [];
  try {
    await load({ ...chat(false), connections: 10, seconds: 1 });
    await load({ ...chat(true), connections: 10, seconds: 1 });
    await load({ ...responses(false, false), connections: 10, seconds: 1 });
    await load({ ...responses(true, false), connections: 10, seconds: 1 });
    const pid = gateway.proc.pid!;
    for (const s of scenarios) {
      for (const c of [1, 10, 64]) {
        process.stderr.write(`bench: responses ${s.name}, concurrency ${c}\n`);
        const ch = await measured(pid, () => load({ ...chat(s.stream), connections: c, seconds }));
        const r = await measured(pid, () => load({ ...responses(s.stream, s.store), connections: c, seconds }));
        const chMean = (1000 * c) / ch.rps;
        const rMean = (1000 * c) / r.rps;
        const added = rMean - chMean;
        rows.push(
          `| ${s.name} | ${c} | ${fmt(ch.rps, 0)} | ${fmt(r.rps, 0)} | ${fmt(r.rps / ch.rps)} | ${fmt(chMean, 3)} / ${fmt(rMean, 3)} | ${added >= 0 ? '+' : ''}${fmt(added, 3)} | ${fmt(ch.cpuUs, 0)} / ${fmt(r.cpuUs, 0)} (${fmt(r.cpuUs / ch.cpuUs)}) | ${ch.p99} / ${r.p99} | ${ch.errors + ch.non2xx} / ${r.errors + r.non2xx} |`,
        );
      }
    }
    return [
      '### Responses route vs Chat Completions route (same gateway, same fake upstream, same run)',
      '',
      '`/v1/responses` (translated to Chat Completions upstream) against `/v1/chat/completions` (a pass-through to this openai_compatible target: relayed, not translated). Aim: within 10% of the Chat Completions route. Latencies in ms (Chat / Responses); gateway CPU in µs per request (Chat / Responses, ratio).',
      '',
      '| scenario | concurrency | Chat req/s | Responses req/s | ratio | mean latency | added mean | gateway CPU µs/req | p99 | errors |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n');
  } finally {
    await gateway.stop();
    await upstream.stop();
  }
}
