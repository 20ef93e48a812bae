/**
 * Local-model benchmark, in one process and one run, on the same model file:
 * - generated tokens/s and time to first token through the gateway (real HTTP
 *   streaming, gateway started in-process) vs node-llama-cpp called directly;
 * - aggregate tokens/s at 1, 2, 4 and 8 concurrent streams through the
 *   gateway (one context, 8 sequences: llama.cpp batches the streams).
 * Uses ../shared/models/stories260K.gguf when present, else the generated demo
 * model. Greedy sampling (temperature 0) so every run does the same work.
 * Progress goes to stderr; the returned Markdown goes into the report.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { parseConfigText } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { createLogging } from '../src/telemetry/logger.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PROMPT = 'Once upon a time';
const MAX_TOKENS = Number(process.env.BENCH_LOCAL_TOKENS ?? 256);
const ROUNDS = Number(process.env.BENCH_LOCAL_ROUNDS ?? 10);
const THREADS = 1;
const CONTEXT = 1024;
const PARALLEL = 8;
const TOKEN = 'bench-local-token-0123456789';

interface Sample {
  ttftMs: number;
  totalMs: number;
  tokens: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const tps = (s: Sample) => (s.tokens / s.totalMs) * 1000;
const log = (msg: string) => process.stderr.write(`[bench local] ${msg}\n`);

function pickModel(): { path: string; label: string } {
  const stories = resolve(REPO_ROOT, '../shared/models/stories260K.gguf');
  if (existsSync(stories)) return { path: stories, label: 'stories260K.gguf (../shared/models)' };
  const demo = resolve(REPO_ROOT, 'models/demo.gguf');
  execFileSync(process.execPath, [resolve(REPO_ROOT, 'scripts/generate-demo-model.mjs'), demo], { stdio: 'ignore' });
  return { path: demo, label: 'models/demo.gguf (generated demo model; stories260K.gguf not found)' };
}

/** node-llama-cpp in-process, the way the gateway uses it, without the gateway. */
async function directRuns(modelPath: string): Promise<Sample[]> {
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error, maxThreads: 0 });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  // Same context shape as the gateway's target.
  const context = await model.createContext({ sequences: PARALLEL, contextSize: CONTEXT, threads: THREADS });
  const seq = context.getSequence();
  const samples: Sample[] = [];
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      await seq.clearHistory();
      const started = performance.now();
      const bos = model.tokens.bos;
      const tokens: Token[] = [...(bos !== null && model.tokens.shouldPrependBosToken ? [bos] : []), ...model.tokenize(PROMPT)];
      let first = 0;
      let n = 0;
      const out: Token[] = [];
      for await (const t of seq.evaluate(tokens, { temperature: 0 })) {
        if (n === 0) first = performance.now();
        out.push(t);
        model.detokenize([t], false, out.slice(-8, -1)); // the text work a client-facing loop does
        if (++n >= MAX_TOKENS) break;
      }
      if (round > 0) samples.push({ ttftMs: first - started, totalMs: performance.now() - started, tokens: n });
    }
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
  return samples;
}

/** One streamed query through the gateway: time to first token frame and to `done`. */
async function streamOnce(url: string): Promise<Sample> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0, stream: true }),
  });
  if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  let first = 0;
  let tokens = 0;
  for await (const chunk of res.body!) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    if (!first && buf.includes('event: token')) first = performance.now();
    const m = /event: usage\ndata: (\{[^\n]*\})/.exec(buf);
    if (m) tokens = JSON.parse(m[1]!).output_tokens;
  }
  return { ttftMs: (first || performance.now()) - started, totalMs: performance.now() - started, tokens };
}

export async function benchLocal(): Promise<string> {
  const model = pickModel();
  log(`model: ${model.label}; ${MAX_TOKENS} tokens per request, ${ROUNDS} rounds`);

  log('direct node-llama-cpp ...');
  const direct = await directRuns(model.path);

  const env = { BENCH_ADMIN: 'bench-admin-password', BENCH_TOKEN: TOKEN, LOG_LEVEL: 'warn' };
  const config = parseConfigText(`public_bind = "127.0.0.1:0"
management_bind = "127.0.0.1:0"
admin_password_env = "BENCH_ADMIN"
[security]
[[tokens]]
env = "BENCH_TOKEN"
caller = "bench"
[[targets]]
name = "bench"
type = "local"
model = ${JSON.stringify(model.path)}
backend = "cpu"
stats = "basic"
[targets.runtime]
context_size = ${CONTEXT}
parallel = ${PARALLEL}
threads = ${THREADS}
queue_size = 64
`);
  const logging = createLogging({ env, destination: { write: () => undefined } });
  const gw = await startGateway({ config, env, logging, processMetrics: false, graceMs: 2000 });
  const rows: string[] = [];
  const gateway: Sample[] = [];
  try {
    await gw.loaded;
    const url = `${gw.publicUrl}/v1/query`;
    log('through the gateway ...');
    await streamOnce(url); // warm-up
    for (let i = 0; i < ROUNDS; i++) gateway.push(await streamOnce(url));

    log('concurrent streams ...');
    for (const streams of [1, 2, 4, 8]) {
      await Promise.all(Array.from({ length: streams }, () => streamOnce(url))); // warm-up at this width
      const aggregates: number[] = [];
      for (let r = 0; r < 3; r++) {
        const started = performance.now();
        const results = await Promise.all(Array.from({ length: streams }, () => streamOnce(url)));
        const total = results.reduce((s, x) => s + x.tokens, 0);
        aggregates.push((total / (performance.now() - started)) * 1000);
      }
      rows.push(`| ${streams} | ${median(aggregates).toFixed(0)} |`);
    }
  } finally {
    await gw.shutdown();
  }

  const dTps = median(direct.map(tps));
  const gTps = median(gateway.map(tps));
  const dTtft = median(direct.map((s) => s.ttftMs));
  const gTtft = median(gateway.map((s) => s.ttftMs));
  const base = Number(rows[0]!.split('|')[2]);
  const withGain = rows.map((r) => {
    const agg = Number(r.split('|')[2]);
    return `${r} ${(agg / base).toFixed(2)}× |`;
  });
  return [
    '### Local model (node-llama-cpp)',
    '',
    `Model: ${model.label}. CPU backend, threads = ${THREADS}, context ${CONTEXT} per sequence, ${MAX_TOKENS} generated tokens per request (greedy), prompt "${PROMPT}", median of ${ROUNDS} runs. Machine: ${cpus().length} cores.`,
    '',
    '| path | tokens/s (prompt + generation) | time to first token |',
    '| --- | --- | --- |',
    `| node-llama-cpp direct (in-process) | ${dTps.toFixed(0)} | ${dTtft.toFixed(2)} ms |`,
    `| through the gateway (HTTP SSE) | ${gTps.toFixed(0)} | ${gTtft.toFixed(2)} ms |`,
    `| ratio gateway / direct | ${(gTps / dTps).toFixed(2)} | +${(gTtft - dTtft).toFixed(2)} ms |`,
    '',
    `Aggregate throughput through the gateway, one context with ${PARALLEL} sequences (llama.cpp decodes concurrent streams in one batch):`,
    '',
    '| concurrent streams | aggregate tokens/s | vs 1 stream |',
    '| --- | --- | --- |',
    ...withGain,
    '',
  ].join('\n');
}
