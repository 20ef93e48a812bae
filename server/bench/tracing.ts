/**
 * The cost of tracing (docs/operations.md#traces): three gateways in the same
 * run over one fake OpenAI-compatible upstream, with tracing off, on with
 * `sampling_ratio = 1.0` and on with `0.1`, each exporting OTLP/protobuf to its
 * own loopback sink (in this process, so the sink's work is not counted).
 * Finite and streaming chat at concurrency 10, in interleaved rounds; reported:
 * the gateway process's CPU µs per request (median round) and req/s (best
 * round), which stay comparable on a busy shared host where latency does not.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBenchGateway, startUpstream } from './processes.js';
import { load, measured, type Run } from './providers.js';

const ROUNDS = 5;
const CONNECTIONS = 10;

interface Sink {
  url: string;
  exports: number;
  bytes: number;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const sink = { exports: 0, bytes: 0 } as Sink;
  const server: Server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (sink.bytes += c.length));
    req.on('end', () => {
      sink.exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sink.close = () => new Promise((r) => server.close(() => r()));
  return sink;
}

const fmt = (n: number, d = 0) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchTracing(options: { seconds?: number } = {}): Promise<string> {
  const seconds = options.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const upstream = await startUpstream();
  const token = 'bench-token-0123456789';
  const target = `[[targets]]
name = "chat"
type = "openai_compatible"
model = "bench-model"
base_url = "${upstream.url}"
token_env = "BENCH_UPSTREAM"
`;
  const settings: Array<{ name: string; ratio: number | null }> = [
    { name: 'off', ratio: null },
    { name: 'sampling 1.0', ratio: 1 },
    { name: 'sampling 0.1', ratio: 0.1 },
  ];
  const sinks = await Promise.all(settings.map(() => startSink()));
  const gateways = await Promise.all(
    settings.map((s, i) =>
      startBenchGateway(
        s.ratio === null
          ? target
          : `${target}[telemetry.traces]\nenabled = true\nendpoint = "${sinks[i]!.url}"\nsampling_ratio = ${s.ratio}\n`,
        token,
        { BENCH_UPSTREAM: upstream.apiKey },
      ),
    ),
  );
  const rows: string[] = [];
  try {
    for (const stream of [false, true]) {
      const scenario = stream ? 'streaming chat' : 'finite chat';
      const body = JSON.stringify({
        model: 'chat',
        messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      });
      const via = (port: number) => ({
        url: `http://127.0.0.1:${port}/v1/chat/completions`,
        headers: { authorization: `Bearer ${token}` },
        body,
        connections: CONNECTIONS,
      });
      for (const g of gateways) await load({ ...via(g.port), seconds: 1 }); // warm-up: JIT, pools, the SDK
      const runs: Array<Array<Run & { cpuUs: number }>> = settings.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        process.stderr.write(`bench: tracing, ${scenario}, round ${round + 1}/${ROUNDS}\n`);
        // Interleaved: drift in the machine's load hits every setting alike.
        for (const [i, g] of gateways.entries()) {
          runs[i]!.push(await measured(g.proc.pid!, () => load({ ...via(g.port), seconds: seconds / ROUNDS })));
        }
      }
      const off = runs[0]!;
      const offCpu = median(off.map((r) => r.cpuUs));
      const offRps = Math.max(...off.map((r) => r.rps));
      for (const [i, s] of settings.entries()) {
        const rs = runs[i]!;
        const cpu = median(rs.map((r) => r.cpuUs));
        const rps = Math.max(...rs.map((r) => r.rps));
        const errors = rs.reduce((a, r) => a + r.errors + r.non2xx, 0);
        rows.push(
          `| ${scenario} | ${s.name} | ${fmt(cpu)} | ${i === 0 ? '—' : `${cpu >= offCpu ? '+' : ''}${fmt(cpu - offCpu)} (${fmt((100 * (cpu - offCpu)) / offCpu, 1)}%)`} | ${fmt(rps)} | ${i === 0 ? '—' : fmt(rps / offRps, 2)} | ${errors} |`,
        );
      }
    }
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
    await upstream.stop();
  }
  const exported = settings
    .map((s, i) => `${s.name}: ${sinks[i]!.exports} exports, ${(sinks[i]!.bytes / 1024).toFixed(0)} KiB`)
    .join('; ');
  await Promise.all(sinks.map((s) => s.close()));
  return [
    '### Tracing: off vs sampling 1.0 vs sampling 0.1 (fake OpenAI-compatible upstream, OTLP/protobuf to a loopback sink)',
    '',
    `Same run, three gateways, \`/v1/chat/completions\` at concurrency ${CONNECTIONS}, ${seconds} s per setting and scenario in ${ROUNDS} interleaved rounds. Gateway CPU is the gateway process's user + system CPU time per request (median round, µs; the exporter's work included); req/s is the best round.`,
    '',
    '| scenario | tracing | gateway CPU µs/req | vs off | req/s | ratio to off | errors |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Exported (sinks): ${exported}.`,
    '',
  ].join('\n');
}
