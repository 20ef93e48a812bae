/**
 * Local-model benchmark, in one run, on the same model file:
 * - generated tokens/s and time to first token through the gateway vs
 *   node-llama-cpp called directly (same context shape and sampling);
 * - aggregate tokens/s at 1, 2, 4 and 8 concurrent streams through the
 *   gateway (one context, 8 sequences: llama.cpp batches the streams).
 *
 * Method (so the ratio measures the gateway and nothing else):
 * - the gateway runs as its own process (`sipp-gateway serve`, as deployed);
 *   the HTTP client is cheap (node:http, keep-alive, frames parsed once) and
 *   lives in this process, beside the direct node-llama-cpp run;
 * - direct and gateway runs alternate round by round (order flipping), so
 *   load from other processes on a shared machine hits both alike.
 * Uses BENCH_LOCAL_MODEL when set, else ../shared/models/stories260K.gguf when
 * present, else the generated demo model. Greedy sampling (temperature 0) so
 * every run does the same work.
 *
 * GPU (docs/local-models.md#on-a-gpu): BENCH_LOCAL_BACKEND=cuda (or vulkan) runs both
 * paths on that backend with every layer offloaded; LD_LIBRARY_PATH reaches the
 * gateway process so it finds the same CUDA libraries as the bench.
 * Progress goes to stderr; the returned Markdown goes into the report.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { startBenchGateway } from './processes.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PROMPT = 'Once upon a time';
const MAX_TOKENS = Number(process.env.BENCH_LOCAL_TOKENS ?? 256);
const ROUNDS = Number(process.env.BENCH_LOCAL_ROUNDS ?? 20);
const BACKEND = (process.env.BENCH_LOCAL_BACKEND ?? 'cpu') as 'cpu' | 'cuda' | 'vulkan';
const THREADS = Number(process.env.BENCH_LOCAL_THREADS ?? 1);
const CONTEXT = 1024;
const PARALLEL = 8;
const BATCH = 512;
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
  const chosen = process.env.BENCH_LOCAL_MODEL;
  if (chosen) return { path: resolve(chosen), label: `${chosen} (BENCH_LOCAL_MODEL)` };
  const stories = resolve(REPO_ROOT, '../shared/models/stories260K.gguf');
  if (existsSync(stories)) return { path: stories, label: 'stories260K.gguf (../shared/models)' };
  const demo = resolve(REPO_ROOT, 'models/demo.gguf');
  execFileSync(process.execPath, [resolve(REPO_ROOT, 'scripts/generate-demo-model.mjs'), demo], { stdio: 'ignore' });
  return { path: demo, label: 'models/demo.gguf (generated demo model; stories260K.gguf not found)' };
}

interface DirectRunner {
  run(): Promise<Sample>;
  close(): Promise<void>;
}

/**
 * node-llama-cpp in-process, the way the gateway uses it, without the gateway:
 * same context shape (sequences, context size, batch size, threads) and the
 * same sampling options.
 */
async function directRunner(modelPath: string): Promise<DirectRunner & { devices: string[] }> {
  const gpu = BACKEND === 'cpu' ? false : BACKEND;
  const llama = await getLlama({ gpu, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error, maxThreads: 0 });
  const model = await llama.loadModel({ modelPath, gpuLayers: gpu ? 'max' : 0 });
  const devices = gpu ? await llama.getGpuDeviceNames() : [];
  const context = await model.createContext({ sequences: PARALLEL, contextSize: CONTEXT, batchSize: BATCH, threads: THREADS });
  const seq = context.getSequence();
  return {
    devices,
    async run() {
      await seq.clearHistory();
      const started = performance.now();
      const bos = model.tokens.bos;
      const tokens: Token[] = [...(bos !== null && model.tokens.shouldPrependBosToken ? [bos] : []), ...model.tokenize(PROMPT)];
      let first = 0;
      let n = 0;
      const out: Token[] = [];
      for await (const t of seq.evaluate(tokens, { temperature: 0, topP: 0.95, seed: 1 })) {
        if (n === 0) first = performance.now();
        out.push(t);
        model.detokenize([t], false, out.slice(-8, -1)); // the text work a client-facing loop does
        if (++n >= MAX_TOKENS) break;
      }
      return { ttftMs: first - started, totalMs: performance.now() - started, tokens: n };
    },
    async close() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}

/**
 * One streamed query through the gateway: time to the first token frame and to
 * the end of the response. The client is deliberately cheap (node:http with a
 * keep-alive agent, frames parsed once as they arrive, no rescans of a growing
 * buffer) so the measurement is the gateway, not the client.
 */
function streamOnce(port: number, agent: Agent): Promise<Sample> {
  const body = JSON.stringify({ model: 'bench', prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0, stream: true });
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/query',
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (d: string) => (text += d));
          res.on('end', () => reject(new Error(`gateway answered ${res.statusCode}: ${text}`)));
          return;
        }
        let partial = '';
        let first = 0;
        let tokens = -1;
        res.on('data', (chunk: string) => {
          const frames = (partial + chunk).split('\n\n');
          partial = frames.pop()!;
          for (const frame of frames) {
            if (!first && frame.startsWith('event: token')) first = performance.now();
            else if (frame.startsWith('event: usage'))
              tokens = JSON.parse(frame.slice(frame.indexOf('data: ') + 6)).output_tokens;
            else if (frame.startsWith('event: error')) reject(new Error(`stream error: ${frame}`));
          }
        });
        res.on('end', () => {
          const ended = performance.now();
          if (tokens < 0) return reject(new Error('stream ended without a usage frame'));
          resolvePromise({ ttftMs: (first || ended) - started, totalMs: ended - started, tokens });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function benchLocal(): Promise<string> {
  const model = pickModel();
  log(`model: ${model.label}; ${MAX_TOKENS} tokens per request, ${ROUNDS} rounds`);

  // The gateway runs as its own process (`sipp-gateway serve`, as deployed).
  const gw = await startBenchGateway(
    `[[targets]]
name = "bench"
type = "local"
model = ${JSON.stringify(model.path)}
backend = "${BACKEND}"
stats = "basic"
[targets.runtime]
context_size = ${CONTEXT}
parallel = ${PARALLEL}
threads = ${THREADS}
batch_size = ${BATCH}
${BACKEND === 'cpu' ? '' : 'gpu_layers = "max"'}
queue_size = 64
`,
    TOKEN,
    process.env.LD_LIBRARY_PATH ? { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH } : {},
  );
  const pub = gw.port;
  const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL });
  const runner = await directRunner(model.path);
  const rows: string[] = [];
  const direct: Sample[] = [];
  const gateway: Sample[] = [];
  try {
    // Warm-up of both paths, then alternate them round by round (the order flips
    // every round) so drift in machine load hits both alike.
    await runner.run();
    await streamOnce(pub, agent);
    log('direct node-llama-cpp and through the gateway, alternating ...');
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        direct.push(await runner.run());
        gateway.push(await streamOnce(pub, agent));
      } else {
        gateway.push(await streamOnce(pub, agent));
        direct.push(await runner.run());
      }
    }

    log('concurrent streams ...');
    for (const streams of [1, 2, 4, 8]) {
      await Promise.all(Array.from({ length: streams }, () => streamOnce(pub, agent))); // warm-up at this width
      const aggregates: number[] = [];
      for (let r = 0; r < 3; r++) {
        const started = performance.now();
        const results = await Promise.all(Array.from({ length: streams }, () => streamOnce(pub, agent)));
        const total = results.reduce((s, x) => s + x.tokens, 0);
        aggregates.push((total / (performance.now() - started)) * 1000);
      }
      rows.push(`| ${streams} | ${median(aggregates).toFixed(0)} |`);
    }
  } finally {
    agent.destroy();
    await runner.close();
    await gw.stop();
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
    `Model: ${model.label}. ${BACKEND === 'cpu' ? 'CPU backend' : `${BACKEND} backend, all layers offloaded (${runner.devices.join(', ') || 'device name unknown'})`}, threads = ${THREADS}, context ${CONTEXT} per sequence, ${MAX_TOKENS} generated tokens per request (greedy), prompt "${PROMPT}", median of ${ROUNDS} runs of each path, alternating; gateway in its own process, client in the bench process. Machine: ${cpus().length} cores.`,
    '',
    '| path | tokens/s (prompt + generation) | time to first token |',
    '| --- | --- | --- |',
    `| node-llama-cpp direct (in-process) | ${dTps.toFixed(0)} | ${dTtft.toFixed(2)} ms |`,
    `| through the gateway (HTTP SSE, separate process) | ${gTps.toFixed(0)} | ${gTtft.toFixed(2)} ms |`,
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
