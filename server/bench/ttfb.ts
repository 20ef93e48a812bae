/**
 * Time to the first byte of a stream, through the gateway against going
 * direct, for every same-API pass-through (OpenAI chat → openai target,
 * Anthropic Messages → anthropic target, Responses → openai target with
 * `api = "responses"`) and the translated paths (Sipp, Responses and
 * Anthropic Messages → an OpenAI chat target), in one run
 * (docs/architecture.md#streams). Each fake provider runs in its own process
 * and answers a stream in one write, so the figure is the gateway's own:
 * request handling, the upstream exchange, relaying the first frame.
 *
 * Sequential requests (one connection per row, kept alive), interleaved
 * request by request across every row after a warm-up, so drift in the
 * machine's load hits every row alike; each round in its own shuffled order
 * (roundOrder), so no row is always the one asked right after the others, or
 * always the first request a gateway gets after idling through the rows of
 * the others; p50 and p99 per row, and for the gateway's rows the difference
 * to the direct row of the same provider. The floor row (floor-proxy.ts, a
 * bare Node proxy in front of the fake OpenAI chat) is what any Node proxy
 * adds on this machine in the same rounds (docs/architecture.md#streams). It
 * is asked as many times per round as each gateway (one copy per gateway
 * path, pooled into one row: pooledRows), so the floor's process serves the
 * same share of the rounds' requests as a gateway's: a process asked once in
 * ten answers later than one asked six times in ten (measured, the same
 * gateway: +0.60 ms as one row of six processes against +0.39 ms as six rows).
 * `BENCH_BASELINE=<ref>[,<ref>…]` adds the same rows for older checkouts
 * (baseline.ts), measured in the same rounds.
 *
 *   BENCH_TTFB_REQUESTS=500   sequential streams per row
 *   BENCH_TTFB_WARMUP=1000    streams per row before measuring (c10, autocannon)
 *   BENCH_FLOOR=0             leave out the floor row
 */
import { Agent, request } from 'node:http';
import { buildBaseline, type Baseline } from './baseline.js';
import { startBenchGateway, startFloorProxy, startUpstream, type Child } from './processes.js';
import { load } from './providers.js';

const TOKEN = 'bench-token-0123456789';
const TEXT = 'Say hello to the benchmark.';

type Provider = 'openai' | 'anthropic' | 'responses';

/** The rows of each gateway (its pass-through and translated paths); the floor is asked as many times per round. */
const GATEWAY_PATHS = 6;

interface Row {
  label: string;
  /** The direct row of the same provider (null: this is one). */
  direct: Row | null;
  url: string;
  headers: Record<string, string>;
  body: string;
  agent: Agent;
  ms: number[];
  failed?: string;
}

const chatBody = (model: string) =>
  JSON.stringify({
    model,
    messages: [{ role: 'user', content: TEXT }],
    stream: true,
    stream_options: { include_usage: true },
  });
const messagesBody = (model: string) =>
  JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: TEXT }], stream: true });
const responsesBody = (model: string) => JSON.stringify({ model, input: TEXT, stream: true, store: false });

/**
 * The order of round `round` over `n` rows: a permutation drawn from a
 * generator seeded by the round (the same rounds in every run). A fixed
 * rotation would keep each row's predecessor the same in every round: the
 * first row of each gateway would always be the one that wakes it after it
 * idled through every other row (in earlier runs, the pass-through OpenAI
 * chat row of every build, README "Benchmarks").
 */
export function roundOrder(round: number, n: number): number[] {
  // mulberry32: a small seeded generator, enough to spread the predecessors.
  let a = (round + 1) * 0x9e3779b9;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * The rows to report: rows that share a label (the floor's copies) become one
 * row, the first of them, holding all their samples; the others keep their
 * order.
 */
export function pooledRows<T extends { label: string; ms: number[] }>(rows: readonly T[]): T[] {
  const byLabel = new Map<string, T>();
  const out: T[] = [];
  for (const r of rows) {
    const first = byLabel.get(r.label);
    if (first === undefined) {
      byLabel.set(r.label, r);
      out.push(r);
    } else if (first !== r) {
      first.ms.push(...r.ms);
    }
  }
  return out;
}

const q = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '–');
const signed = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(3)}` : '–');

/** One streaming request: status, the first bytes and the time to its first body byte (ms). */
function once(row: Row): Promise<{ status: number; text: string; ttfb: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      row.url,
      { method: 'POST', agent: row.agent, headers: { 'content-type': 'application/json', ...row.headers } },
      (res) => {
        let ttfb = -1;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (ttfb < 0) ttfb = performance.now() - t0;
          if (text.length < 4096) text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ttfb }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(row.body);
  });
}

export async function benchTtfb(): Promise<string> {
  const requests = Number(process.env.BENCH_TTFB_REQUESTS ?? 500);
  const warmup = Number(process.env.BENCH_TTFB_WARMUP ?? 1000);
  const children: Child[] = [];
  const baselines: Baseline[] = [];
  const rows: Row[] = [];
  const row = (label: string, direct: Row | null, url: string, headers: Record<string, string>, body: string): Row => {
    const r: Row = { label, direct, url, headers, body, agent: new Agent({ keepAlive: true, maxSockets: 1 }), ms: [] };
    rows.push(r);
    return r;
  };
  try {
    const up = {} as Record<Provider, Awaited<ReturnType<typeof startUpstream>>>;
    for (const kind of ['openai', 'anthropic', 'responses'] as const) {
      up[kind] = await startUpstream(kind);
      children.push(up[kind]);
    }
    const direct: Record<Provider, Row> = {
      openai: row(
        'direct: fake OpenAI chat',
        null,
        `${up.openai.url}/chat/completions`,
        { authorization: `Bearer ${up.openai.apiKey}` },
        chatBody('bench-model'),
      ),
      anthropic: row(
        'direct: fake Anthropic Messages',
        null,
        `${up.anthropic.url}/v1/messages`,
        { 'x-api-key': up.anthropic.apiKey, 'anthropic-version': '2023-06-01' },
        messagesBody('bench-model'),
      ),
      responses: row(
        'direct: fake Responses API',
        null,
        `${up.responses.url}/responses`,
        { authorization: `Bearer ${up.responses.apiKey}` },
        responsesBody('bench-model'),
      ),
    };
    const toml = `[[targets]]
name = "oa"
type = "openai"
model = "bench-model"
base_url = "${up.openai.url}"
api_key_env = "BENCH_OPENAI"
[[targets]]
name = "claude"
type = "anthropic"
model = "bench-model"
base_url = "${up.anthropic.url}"
api_key_env = "BENCH_ANTHROPIC"
[[targets]]
name = "native"
type = "openai"
api = "responses"
model = "bench-model"
base_url = "${up.responses.url}"
api_key_env = "BENCH_RESPONSES"
`;
    const env = {
      BENCH_OPENAI: up.openai.apiKey,
      BENCH_ANTHROPIC: up.anthropic.apiKey,
      BENCH_RESPONSES: up.responses.apiKey,
    };
    if (process.env.BENCH_FLOOR !== '0') {
      const floor = await startFloorProxy(up.openai.url, up.openai.apiKey);
      children.push(floor);
      // As many copies as a gateway has paths (GATEWAY_PATHS), pooled into one row when reported (pooledRows).
      for (let i = 0; i < GATEWAY_PATHS; i++) {
        row(
          'floor: bare Node proxy → fake OpenAI chat',
          direct.openai,
          `http://127.0.0.1:${floor.port}/v1/chat/completions`,
          {},
          chatBody('bench-model'),
        );
      }
    }
    const gateways: Array<{ label: string; cli?: string }> = [{ label: 'this build' }];
    for (const ref of (process.env.BENCH_BASELINE ?? '').split(',').filter(Boolean)) {
      const b = buildBaseline(ref);
      baselines.push(b);
      gateways.push({ label: `${b.ref} (${b.commit})`, cli: b.cli });
    }
    for (const g of gateways) {
      const gw = await startBenchGateway(toml, TOKEN, env, { cli: g.cli });
      children.push(gw);
      const base = `http://127.0.0.1:${gw.port}`;
      const auth = { authorization: `Bearer ${TOKEN}` };
      const anth = { 'x-api-key': TOKEN, 'anthropic-version': '2023-06-01' };
      row(`${g.label}: pass-through OpenAI chat → openai`, direct.openai, `${base}/v1/chat/completions`, auth, chatBody('oa'));
      row(
        `${g.label}: pass-through Anthropic Messages → anthropic`,
        direct.anthropic,
        `${base}/v1/messages`,
        anth,
        messagesBody('claude'),
      );
      row(
        `${g.label}: pass-through Responses → openai (api = "responses")`,
        direct.responses,
        `${base}/v1/responses`,
        auth,
        responsesBody('native'),
      );
      row(
        `${g.label}: translated Sipp → openai`,
        direct.openai,
        `${base}/v1/chat`,
        auth,
        JSON.stringify({ model: 'oa', messages: [{ role: 'user', content: TEXT }], stream: true }),
      );
      row(`${g.label}: translated Responses → openai (chat)`, direct.openai, `${base}/v1/responses`, auth, responsesBody('oa'));
      row(`${g.label}: translated Anthropic Messages → openai`, direct.openai, `${base}/v1/messages`, anth, messagesBody('oa'));
      const paths = rows.filter((r) => r.label.startsWith(`${g.label}: `)).length;
      if (paths !== GATEWAY_PATHS) throw new Error(`a gateway has ${paths} rows, GATEWAY_PATHS says ${GATEWAY_PATHS}`);
    }

    // Probe: a row that does not stream a complete answer is reported, not measured.
    for (const r of rows) {
      try {
        const x = await once(r);
        if (x.status !== 200 || !/\[DONE\]|response\.completed|message_stop|event: done/.test(x.text))
          r.failed = `answers ${x.status}: ${x.text.replace(/\s+/g, ' ').slice(0, 100)}`;
      } catch (err) {
        r.failed = `fails: ${(err as Error).message}`;
      }
    }
    const live = rows.filter((r) => !r.failed);
    process.stderr.write('bench: ttfb warm-up\n');
    for (const r of live) {
      await load({ url: r.url, headers: r.headers, body: r.body, connections: 10, amount: warmup });
      for (let i = 0; i < 20; i++) await once(r);
    }
    process.stderr.write(`bench: ttfb, ${requests} sequential streams per row\n`);
    for (let i = 0; i < requests; i++) {
      for (const k of roundOrder(i, live.length)) {
        const r = live[k]!;
        const x = await once(r);
        if (x.status === 200 && x.ttfb >= 0) r.ms.push(x.ttfb);
      }
    }

    const out = [
      '### Stream time to first byte: direct and through the gateway',
      '',
      `${requests} sequential streaming requests per row (one kept-alive connection each), interleaved request by request across the rows (each round in its own shuffled order) after ${warmup} warm-up streams per row; each fake provider in its own process answers a stream in one write; the floor row is asked ${GATEWAY_PATHS} times per round, as often as each gateway, its samples pooled. Added: the row's p50 (p99) minus the p50 (p99) of going direct to the same provider.`,
      '',
      '| row | p50 ms | p99 ms | added p50 ms | added p99 ms |',
      '| --- | --- | --- | --- | --- |',
    ];
    for (const r of pooledRows(rows)) {
      if (r.failed) {
        out.push(`| ${r.label} | fails | | | |`);
        continue;
      }
      const p50 = q(r.ms, 0.5);
      const p99 = q(r.ms, 0.99);
      const d = r.direct;
      out.push(
        `| ${r.label} | ${fmt(p50)} | ${fmt(p99)} | ${d ? signed(p50 - q(d.ms, 0.5)) : '–'} | ${d ? signed(p99 - q(d.ms, 0.99)) : '–'} |`,
      );
    }
    const failed = pooledRows(rows).filter((r) => r.failed);
    if (failed.length) out.push('', ...failed.map((r) => `- ${r.label}: ${r.failed}`));
    out.push('');
    return out.join('\n');
  } finally {
    for (const r of rows) r.agent.destroy();
    for (const c of children.reverse()) await c.stop();
    for (const b of baselines) b.remove();
  }
}
