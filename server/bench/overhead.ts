/**
 * The provider-path overhead bench, in one run against one fake OpenAI
 * upstream (its own process): direct, Portkey's gateway, this gateway on the
 * Sipp (`/v1/chat`), OpenAI chat (`/v1/chat/completions`, same-API
 * pass-through to the openai target) and Responses (`/v1/responses`) routes,
 * an older build on the same routes (`BENCH_BASELINE=<git ref>`, baseline.ts)
 * and this build with feature profiles (profiles.ts), finite and streaming, at
 * concurrency 1/10/64.
 *
 * The headline is the gateway's CPU time per request (user + system from
 * /proc/<pid>/stat over the requests it served): on a shared, busy machine
 * throughput and latency move with everyone else's load, CPU per request much
 * less. Rows are measured in interleaved rounds (every row once per round, the
 * order rotating), so drift in the machine's load hits every row alike.
 *
 * Also: added time to the first byte of a stream (p50 of sequential requests,
 * interleaved one by one across rows, against direct), idle RSS (started,
 * before any request) and loaded RSS (the most seen after a round).
 *
 *   BENCH_SECONDS=3          seconds per cell, split over the rounds
 *   BENCH_ROUNDS=3           interleaved rounds
 *   BENCH_CONCURRENCY=1,10,64
 *   BENCH_ROUTES=sipp,openai,responses   this build's (and the baseline's) routes; `responses-store`
 *                            is the Responses route with `store` left at its default (true, the memory store)
 *   BENCH_BASELINE=<ref>[,<ref>…]  also measure those checkouts (BENCH_BASELINE_KEEP=1 keeps their worktrees)
 *   BENCH_PROFILES=redis,tracing          feature rows (profiles.ts); BENCH_PROFILE_ROUTE=openai
 *   BENCH_PROFILES_BASELINE=1  the feature rows for each baseline too (a feature's cost before and after, same run)
 *   BENCH_PORTKEY=0          leave Portkey out
 *   BENCH_FLOOR=0            leave out the floor row (floor-proxy.ts: the least a Node proxy does)
 *   BENCH_TTFB_REQUESTS=200  sequential streams per row for the first-byte figure
 *   BENCH_WARMUP=2000        requests per row and scenario before measuring
 */
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { buildBaseline, type Baseline } from './baseline.js';
import { ensurePortkey, portkeyVersion, startPortkey } from './portkey.js';
import { rssOf, startBenchGateway, startFloorProxy, startUpstream, type Child } from './processes.js';
import { selectedProfiles, services } from './profiles.js';
import { load, type Run } from './providers.js';

type Route = 'sipp' | 'openai' | 'responses' | 'responses-store';
const ROUTES: Record<Route, string> = {
  sipp: '/v1/chat',
  openai: '/v1/chat/completions',
  responses: '/v1/responses',
  'responses-store': '/v1/responses',
};
const ROUTE_LABELS: Record<Route, string> = {
  sipp: 'Sipp',
  openai: 'OpenAI chat',
  responses: 'Responses',
  'responses-store': 'Responses (store)',
};
const TEXT = 'Say hello to the benchmark.';
const TOKEN = 'bench-token-0123456789';

interface Row {
  label: string;
  /** Process whose CPU and RSS are measured (null: direct). */
  pid: number | null;
  url: string;
  headers: Record<string, string>;
  body(stream: boolean): string;
  idleRss: number | null;
  maxRss: number;
  /** Why a scenario is not measured (probe failed), by scenario. */
  skip: Partial<Record<'finite' | 'stream', string>>;
}

interface Cell {
  requests: number;
  seconds: number;
  cpu: number;
  p50: number[];
  p99: number[];
  errors: number;
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const mb = (b: number | null) => (b === null ? '–' : (b / 1048576).toFixed(0));
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function openaiBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: TEXT }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

function routeBody(route: Route, stream: boolean): string {
  switch (route) {
    case 'sipp':
      return JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: TEXT }], stream });
    case 'openai':
      return openaiBody('chat', stream);
    case 'responses':
      return JSON.stringify({ model: 'chat', input: TEXT, stream, store: false });
    case 'responses-store':
      return JSON.stringify({ model: 'chat', input: TEXT, stream });
  }
}

/** One request; its status and the first bytes of the body (the probe before measuring a row). */
function once(row: Row, stream: boolean): Promise<{ status: number; text: string; ttfbMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      row.url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', ...row.headers } },
      (res) => {
        let text = '';
        let ttfb = -1;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (ttfb < 0) ttfb = performance.now() - t0;
          if (text.length < 4096) text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ttfbMs: ttfb }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(row.body(stream));
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** The probe: a row whose scenario does not answer 200 with a complete body is reported, not measured. */
async function probe(row: Row): Promise<void> {
  for (const stream of [false, true]) {
    const key = stream ? 'stream' : 'finite';
    try {
      const r = await once(row, stream);
      const ok = r.status === 200 && (stream ? /\[DONE\]|response\.completed|event: done/.test(r.text) : r.text.startsWith('{'));
      if (!ok) row.skip[key] = `answers ${r.status}: ${r.text.replace(/\s+/g, ' ').slice(0, 100)}`;
    } catch (err) {
      row.skip[key] = `fails: ${(err as Error).message}`;
    }
  }
}

export async function benchOverhead(): Promise<string> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const concurrency = (process.env.BENCH_CONCURRENCY ?? '1,10,64').split(',').map(Number);
  const routes = (process.env.BENCH_ROUTES ?? 'sipp,openai,responses').split(',').filter(Boolean) as Route[];
  const profileRoute = (process.env.BENCH_PROFILE_ROUTE ?? 'openai') as Route;
  const ttfbRequests = Number(process.env.BENCH_TTFB_REQUESTS ?? 200);
  const { run: profiles, notes } = selectedProfiles();

  const children: Child[] = [];
  const svc = services();
  const baselines: Baseline[] = [];
  const rows: Row[] = [];
  const upstream = await startUpstream();
  children.push(upstream);
  const target = `[[targets]]
name = "chat"
type = "openai_compatible"
model = "bench-model"
base_url = "${upstream.url}"
token_env = "BENCH_UPSTREAM"
`;
  const env = { BENCH_UPSTREAM: upstream.apiKey };
  const gatewayRows = async (
    label: string,
    opts: { cli?: string; toml?: string; env?: Record<string, string>; nodeArgs?: readonly string[] },
    rs: Route[],
  ) => {
    const gw = await startBenchGateway(
      target + (opts.toml ?? ''),
      TOKEN,
      { ...env, ...opts.env },
      { cli: opts.cli, nodeArgs: opts.nodeArgs },
    );
    children.push(gw);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssOf(gw.proc.pid!);
    const made = rs.map((route): Row => ({
      label: `${label}, ${ROUTE_LABELS[route]} route`,
      pid: gw.proc.pid!,
      url: `http://127.0.0.1:${gw.port}${ROUTES[route]}`,
      headers: { authorization: `Bearer ${TOKEN}` },
      body: (stream) => routeBody(route, stream),
      idleRss: idle,
      maxRss: idle,
      skip: {},
    }));
    return { gw, made };
  };

  try {
    rows.push({
      label: 'direct (fake upstream)',
      pid: null,
      url: `${upstream.url}/chat/completions`,
      headers: { authorization: `Bearer ${upstream.apiKey}` },
      body: (stream) => openaiBody('bench-model', stream),
      idleRss: null,
      maxRss: 0,
      skip: {},
    });
    if (process.env.BENCH_PORTKEY !== '0') {
      const why = ensurePortkey();
      if (why) notes.push(`Portkey: ${why}`);
      else {
        const pk = await startPortkey();
        children.push(pk);
        await new Promise((r) => setTimeout(r, 1000));
        const idle = rssOf(pk.proc.pid!);
        rows.push({
          label: `Portkey ${portkeyVersion()} (OpenAI chat)`,
          pid: pk.proc.pid!,
          url: `http://127.0.0.1:${pk.port}/v1/chat/completions`,
          headers: {
            authorization: `Bearer ${upstream.apiKey}`,
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': upstream.url,
          },
          body: (stream) => openaiBody('bench-model', stream),
          idleRss: idle,
          maxRss: idle,
          skip: {},
        });
      }
    }
    if (process.env.BENCH_FLOOR !== '0') {
      const fp = await startFloorProxy(upstream.url, upstream.apiKey);
      children.push(fp);
      await new Promise((r) => setTimeout(r, 1000));
      const idle = rssOf(fp.proc.pid!);
      rows.push({
        label: 'floor: a bare Node proxy (node:http + undici, floor-proxy.ts)',
        pid: fp.proc.pid!,
        url: `http://127.0.0.1:${fp.port}/v1/chat/completions`,
        headers: {},
        body: (stream) => openaiBody('chat', stream),
        idleRss: idle,
        maxRss: idle,
        skip: {},
      });
    }
    rows.push(...(await gatewayRows('this build', {}, routes)).made);
    for (const ref of (process.env.BENCH_BASELINE ?? '').split(',').filter(Boolean)) {
      const b = buildBaseline(ref);
      baselines.push(b);
      rows.push(...(await gatewayRows(`${b.ref} (${b.commit})`, { cli: b.cli }, routes)).made);
    }
    const profileBuilds: Array<{ name: string; cli?: string }> = [{ name: 'this build' }];
    if (process.env.BENCH_PROFILES_BASELINE === '1')
      for (const b of baselines) profileBuilds.push({ name: `${b.ref} (${b.commit})`, cli: b.cli });
    for (const build of profileBuilds)
      for (const p of profiles) {
        try {
          const { gw, made } = await gatewayRows(
            `${build.name} + ${p.label}`,
            { cli: build.cli, toml: await p.toml!(svc), env: p.env ? await p.env(svc) : {}, nodeArgs: p.nodeArgs },
            [profileRoute],
          );
          if (p.setup) {
            const { token } = await p.setup({ port: gw.port, mgmt: gw.mgmt });
            if (token) for (const r of made) r.headers = { authorization: `Bearer ${token}` };
          }
          rows.push(...made);
        } catch (err) {
          notes.push(`profile "${p.name}" (${p.label}) did not start: ${(err as Error).message}`);
        }
      }

    for (const row of rows) await probe(row);
    // Warm-up: JIT and connection pools of every process, by request count (a loaded machine serves fewer per second).
    process.stderr.write('bench: overhead warm-up\n');
    const warmup = Number(process.env.BENCH_WARMUP ?? 2000);
    for (const row of rows) {
      for (const stream of [false, true]) {
        if (row.skip[stream ? 'stream' : 'finite']) continue;
        await load({ url: row.url, headers: row.headers, body: row.body(stream), connections: 10, amount: warmup });
      }
    }

    // Added first byte of a stream: sequential requests, one per row in turn.
    const ttfb = new Map<Row, number[]>(rows.map((r) => [r, []]));
    for (let i = 0; i < ttfbRequests; i++) {
      for (const row of rows) {
        if (row.skip.stream) continue;
        const r = await once(row, true);
        if (r.status === 200 && r.ttfbMs >= 0) ttfb.get(row)!.push(r.ttfbMs);
      }
    }

    const cells = new Map<string, Cell>();
    const cellOf = (row: Row, stream: boolean, c: number) => {
      const k = `${rows.indexOf(row)}|${stream}|${c}`;
      let cell = cells.get(k);
      if (!cell) cells.set(k, (cell = { requests: 0, seconds: 0, cpu: 0, p50: [], p99: [], errors: 0 }));
      return cell;
    };
    for (const stream of [false, true]) {
      for (const c of concurrency) {
        for (let round = 0; round < rounds; round++) {
          process.stderr.write(
            `bench: overhead ${stream ? 'streaming' : 'finite'}, concurrency ${c}, round ${round + 1}/${rounds}\n`,
          );
          const live = rows.filter((r) => !r.skip[stream ? 'stream' : 'finite']);
          for (let i = 0; i < live.length; i++) {
            const row = live[(i + round) % live.length]!;
            const before = row.pid ? cpuSeconds(row.pid) : 0;
            const t0 = performance.now();
            const r: Run = await load({
              url: row.url,
              headers: row.headers,
              body: row.body(stream),
              connections: c,
              seconds: seconds / rounds,
            });
            const cell = cellOf(row, stream, c);
            cell.seconds += (performance.now() - t0) / 1000;
            cell.requests += r.total;
            cell.p50.push(r.p50);
            cell.p99.push(r.p99);
            cell.errors += r.errors + r.non2xx;
            if (row.pid) {
              cell.cpu += cpuSeconds(row.pid) - before;
              row.maxRss = Math.max(row.maxRss, rssOf(row.pid));
            }
          }
        }
      }
    }

    // The report.
    const direct = rows[0]!;
    const rps = (row: Row, stream: boolean, c: number) => {
      const cell = cells.get(`${rows.indexOf(row)}|${stream}|${c}`);
      return cell && cell.seconds > 0 ? cell.requests / cell.seconds : NaN;
    };
    const cpuUs = (row: Row, stream: boolean, c: number) => {
      const cell = cells.get(`${rows.indexOf(row)}|${stream}|${c}`);
      return cell && row.pid && cell.requests > 0 ? (cell.cpu * 1e6) / cell.requests : NaN;
    };
    const ttfbP50 = (row: Row) => median(ttfb.get(row)!);
    const mid = concurrency.includes(10) ? 10 : concurrency[0]!;
    const low = concurrency.includes(1) ? 1 : concurrency[0]!;
    const out: string[] = [
      '### Provider path: direct, Portkey and this gateway (one fake OpenAI upstream on loopback, one run)',
      '',
      `${rounds} interleaved rounds per cell (${fmt(seconds / rounds, 1)} s each; every row once per round, order rotating); autocannon, the upstream and every gateway share the machine's cores. **Gateway CPU µs/req** is the process's user + system time (/proc) over the requests it served, the figure that survives a noisy machine; req/s and latency move with the machine's load. Added mean latency is connections ÷ throughput against direct (closed loop). Stream first byte: p50 over ${ttfbRequests} sequential streaming requests per row, interleaved request by request, minus direct's.`,
      '',
      `| row | CPU µs/req finite c${mid} | CPU µs/req stream c${mid} | req/s finite c${mid} (share of direct) | added mean c${low} finite | stream first byte added (p50) | idle RSS MB | loaded RSS MB |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const row of rows) {
      const f = rps(row, false, mid);
      const addedC1 = (1000 * low) / rps(row, false, low) - (1000 * low) / rps(direct, false, low);
      const tt = row === direct ? ttfbP50(row) : ttfbP50(row) - ttfbP50(direct);
      out.push(
        `| ${row.label} | ${row.skip.finite ? 'fails' : fmt(cpuUs(row, false, mid))} | ${row.skip.stream ? 'fails' : fmt(cpuUs(row, true, mid))} | ${fmt(f)} (${fmt(f / rps(direct, false, mid), 2)}) | ${row === direct ? '–' : `+${fmt(addedC1, 3)} ms`} | ${row.skip.stream ? 'fails' : row === direct ? `${fmt(tt, 3)} ms (direct)` : `+${fmt(tt, 3)} ms`} | ${mb(row.idleRss)} | ${row.pid ? mb(row.maxRss) : '–'} |`,
      );
    }
    const failed = rows.flatMap((r) =>
      (['finite', 'stream'] as const)
        .filter((k) => r.skip[k])
        .map((k) => `${r.label}, ${k === 'finite' ? 'finite' : 'streaming'}: ${r.skip[k]}`),
    );
    if (failed.length || notes.length) out.push('', ...[...failed, ...notes].map((s) => `- ${s}`));
    for (const stream of [false, true]) {
      out.push(
        '',
        `#### ${stream ? 'Streaming' : 'Finite'} chat, every concurrency`,
        '',
        '| row | concurrency | req/s | share of direct | mean latency ms | added mean ms | p50 / p99 ms | gateway CPU µs/req | errors |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      );
      for (const row of rows) {
        if (row.skip[stream ? 'stream' : 'finite']) continue;
        for (const c of concurrency) {
          const cell = cells.get(`${rows.indexOf(row)}|${stream}|${c}`)!;
          const r = rps(row, stream, c);
          const d = rps(direct, stream, c);
          const mean = (1000 * c) / r;
          const added = mean - (1000 * c) / d;
          out.push(
            `| ${row.label} | ${c} | ${fmt(r)} | ${fmt(r / d, 2)} | ${fmt(mean, 3)} | ${row === direct ? '–' : `${added >= 0 ? '+' : ''}${fmt(added, 3)}`} | ${median(cell.p50)} / ${median(cell.p99)} | ${fmt(cpuUs(row, stream, c))} | ${cell.errors} |`,
          );
        }
      }
    }
    out.push('');
    return out.join('\n');
  } finally {
    agent.destroy();
    for (const c of children.reverse()) await c.stop();
    await svc.stop();
    for (const b of baselines) b.remove();
  }
}
