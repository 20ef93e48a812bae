/**
 * `npm run fuzz`: a bounded, seeded fuzz of the public routes of a real
 * gateway process on loopback, with a fake OpenAI-compatible and a fake
 * Anthropic upstream in their own processes. Sends FUZZ_COUNT (default 1,800)
 * mutated OpenAI Chat Completions, Anthropic Messages and Sipp bodies (wrong
 * types, missing and extra fields, huge numbers, deep nesting, invalid UTF-8
 * and base64, odd tool_choice and tool messages, huge strings within the body
 * limit, truncated JSON, streaming and not); FUZZ_SEED (default 1) makes the
 * run reproducible. Reports the count by status, every 5xx (its body saved
 * under bench-results/fuzz/), any secret seen in a response or a log line,
 * gateway RSS, event-loop delay max and whether /healthz kept answering.
 * Exits 1 on a 500 (the gateway's own fault), a request that got no answer
 * within FUZZ_TIMEOUT_SECONDS (default 60), a secret leak, or a failed /healthz.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startBenchGateway, startUpstream } from './processes.js';
import { mb, startMonitor } from './monitor.js';

const COUNT = Number(process.env.FUZZ_COUNT ?? 1800);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const TIMEOUT_MS = Number(process.env.FUZZ_TIMEOUT_SECONDS ?? 60) * 1000;
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 4);
const OUT_DIR = join('bench-results', 'fuzz');
/** FUZZ_SAVE=131,139: also save these cases' bodies (tag `saved`), whatever their answer. */
const SAVE = new Set((process.env.FUZZ_SAVE ?? '').split(',').filter(Boolean).map(Number));

/** mulberry32: a small seeded PRNG, so FUZZ_SEED reproduces every body. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

type RouteKey = 'openai_chat' | 'anthropic_messages' | 'sipp_chat' | 'sipp_query';
const PATHS: Record<RouteKey, string> = {
  openai_chat: '/v1/chat/completions',
  anthropic_messages: '/v1/messages',
  sipp_chat: '/v1/chat',
  sipp_query: '/v1/query',
};

// Raw-text placeholders, replaced after JSON.stringify: deep nesting that
// JSON.stringify itself could not build, bytes that are not UTF-8, lone surrogates.
const DEEP = '\u0000DEEP\u0000';
const BAD_UTF8 = '\u0000BADUTF8\u0000';
const SURROGATE = '\u0000SURROGATE\u0000';

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 6 : 8)) {
    case 0:
      return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 1e-320]);
    case 1:
      return r.pick(['', 'x', 'null', '0', 'true', '\u202e\u0000', 'é'.repeat(50)]);
    case 2:
      return null;
    case 3:
      return r.chance(0.5);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return [randomValue(r, depth + 1), randomValue(r, depth + 1)];
    default:
      return { [r.pick(['type', 'role', 'content', 'x', '__proto__', 'constructor'])]: randomValue(r, depth + 1) };
  }
}

function deepText(r: Rng): string {
  const n = r.pick([65, 200, 1_000, 10_000, 50_000]);
  return r.chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n);
}

function baseBody(r: Rng, route: RouteKey, model: string): any {
  const stream = r.chance(0.4);
  const text = r.pick(['hi', 'Say hello.', 'Ünïcödé ✓ 🙂']);
  switch (route) {
    case 'openai_chat':
      return {
        model,
        messages: [{ role: 'user', content: text }],
        ...(stream ? { stream: true, stream_options: { include_usage: r.chance(0.5) } } : {}),
      };
    case 'anthropic_messages':
      return { model, max_tokens: 64, messages: [{ role: 'user', content: text }], ...(stream ? { stream: true } : {}) };
    case 'sipp_chat':
      return { model, messages: [{ role: 'user', content: text }], stream };
    case 'sipp_query':
      return { model, prompt: text, stream };
  }
}

/** Every path to a value in a JSON tree (for "mutate somewhere"). */
function paths(v: any, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (at.length) out.push(at);
  if (v && typeof v === 'object' && at.length < 8)
    for (const k of Object.keys(v)) paths(v[k], [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}
function setAt(root: any, path: (string | number)[], value: unknown): void {
  let o = root;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path[path.length - 1]!] = value;
}
function deleteAt(root: any, path: (string | number)[]): void {
  let o = root;
  for (const k of path.slice(0, -1)) o = o[k];
  if (Array.isArray(o)) o.splice(Number(path[path.length - 1]), 1);
  else delete o[path[path.length - 1]!];
}

const tool = (name = 'get_weather', parameters: unknown = { type: 'object', properties: { city: { type: 'string' } } }) => ({
  type: 'function',
  function: { name, parameters },
});
const anthropicTool = (
  name = 'get_weather',
  input_schema: unknown = { type: 'object', properties: { city: { type: 'string' } } },
) => ({
  name,
  input_schema,
});

/** Puts `text` where the body's user text lives (the first message's content, else `prompt`), whatever earlier mutations left there. */
function setText(body: any, text: unknown): void {
  const m = Array.isArray(body.messages) ? body.messages[0] : undefined;
  if (m && typeof m === 'object' && !Array.isArray(m)) m.content = text;
  else body.prompt = text;
}
function pushMessage(body: any, message: unknown): void {
  if (Array.isArray(body.messages)) body.messages.push(message);
  else body.messages = [message];
}

/** One mutation, chosen by the route; returns a label for the report. */
function mutate(r: Rng, route: RouteKey, body: any): string {
  const oa = route === 'openai_chat';
  const an = route === 'anthropic_messages';
  const kind = r.int(16);
  switch (kind) {
    case 0: {
      const ps = paths(body);
      const p = r.pick(ps);
      setAt(body, p, randomValue(r));
      return `wrong type at ${p.join('.')}`;
    }
    case 1: {
      const ps = paths(body);
      const p = r.pick(ps);
      deleteAt(body, p);
      return `missing ${p.join('.')}`;
    }
    case 2: {
      const k = r.pick([
        'n',
        'seed',
        'user',
        'logprobs',
        'top_logprobs',
        'metadata',
        'x_extra',
        'functions',
        'service_tier',
        'top_k',
        'system',
        'thinking',
      ]);
      body[k] = randomValue(r);
      return `extra ${k}`;
    }
    case 3: {
      const k = r.pick(['max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'seed', 'presence_penalty', 'top_k']);
      body[k] = r.pick([1e308, -1e308, 2 ** 63, -1, 0, 1.5, 1e6 + 1, Number.MAX_SAFE_INTEGER, '10']);
      return `huge/odd number ${k}=${String(body[k])}`;
    }
    case 4: {
      // Deep nesting where providers take free-form JSON.
      const where = oa
        ? r.pick(['tools', 'response_format', 'metadata', 'tool_calls', 'content'])
        : an
          ? r.pick(['tools', 'tool_use', 'metadata', 'content'])
          : r.pick(['extra', 'content']);
      if (where === 'tools') body.tools = oa ? [tool('f', DEEP)] : [anthropicTool('f', DEEP)];
      else if (where === 'response_format')
        body.response_format = { type: 'json_schema', json_schema: { name: 's', schema: DEEP } };
      else if (where === 'metadata') body.metadata = { user_id: DEEP };
      else if (where === 'tool_calls')
        pushMessage(body, {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: DEEP } }],
        });
      else if (where === 'tool_use')
        pushMessage(body, { role: 'assistant', content: [{ type: 'tool_use', id: 'tu1', name: 'f', input: DEEP }] });
      else if (where === 'content') body.messages = DEEP;
      else body.extra = DEEP;
      return `deep nesting in ${where}`;
    }
    case 5: {
      setText(body, `a${BAD_UTF8}b`);
      return 'invalid UTF-8 bytes in a string';
    }
    case 6: {
      setText(body, `a${SURROGATE}b`);
      return 'lone surrogate escape';
    }
    case 7: {
      const url = r.pick([
        'data:image/png;base64,!!!not-base64!!!',
        'data:image/png;base64,',
        'data:;base64,AAAA',
        'file:///etc/passwd',
        'javascript:alert(1)',
        'http://169.254.169.254/latest/meta-data/',
        'http://[::1]/x.png',
        'ftp://x/y.png',
        'x'.repeat(3000),
      ]);
      if (oa || route === 'sipp_chat')
        body.messages = [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this' },
              { type: 'image_url', image_url: { url } },
            ],
          },
        ];
      else if (an) {
        const base64 = r.chance(0.5);
        body.messages = [
          {
            role: 'user',
            content: [
              { type: 'image', source: base64 ? { type: 'base64', media_type: 'image/png', data: '%%%' } : { type: 'url', url } },
            ],
          },
        ];
        if (base64) return 'image base64 data "%%%"';
      } else body.prompt = [{ type: 'image_url', image_url: { url } }];
      return `image ${url.slice(0, 40)}`;
    }
    case 8: {
      if (an) {
        body.tools = r.chance(0.5) ? [anthropicTool()] : undefined;
        body.tool_choice = r.pick([
          { type: 'tool', name: 'missing' },
          { type: 'any' },
          { type: 'tool' },
          { type: 'auto', disable_parallel_tool_use: 'x' },
          'auto',
          { type: 'none' },
        ]);
      } else {
        body.tools = r.chance(0.5) ? [tool()] : r.pick([[], undefined, [{ type: 'function' }], [tool('')], [tool('a b c')]]);
        body.tool_choice = r.pick([
          'required',
          'none',
          'auto',
          'bogus',
          { type: 'function' },
          { type: 'function', function: { name: 'missing' } },
          { type: 'function', function: {} },
          7,
        ]);
      }
      return `tool_choice ${JSON.stringify(body.tool_choice)}`;
    }
    case 9: {
      if (an) {
        body.messages = r.pick([
          [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }] }],
          [
            { role: 'assistant', content: [{ type: 'tool_use', id: 'tu1', name: 'f', input: 'not an object' }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu1' }] },
          ],
          [{ role: 'user', content: [{ type: 'tool_result' }] }],
          [{ role: 'assistant', content: [{ type: 'tool_use', id: 'tu1', name: 'f', input: {} }] }],
          [{ role: 'user', content: [] }],
          [{ role: 'system', content: 'x' }],
        ]);
      } else {
        body.messages = r.pick([
          [{ role: 'tool', content: 'orphan', tool_call_id: 'nope' }],
          [{ role: 'tool', content: 'x' }],
          [
            { role: 'user', content: 'q' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{not json' } }],
            },
            { role: 'tool', tool_call_id: 'c1', content: 'r' },
          ],
          [{ role: 'assistant', tool_calls: [{ id: 'c1' }] }],
          [{ role: 'assistant', content: null, tool_calls: [] }],
          [
            { role: 'developer', content: [{ type: 'text', text: 'x' }] },
            { role: 'user', content: [{ type: 'text' }] },
          ],
          [{ role: 'function', name: 'f', content: 'x' }],
          [],
        ]);
      }
      return 'odd tool/messages';
    }
    case 10: {
      const n = r.pick([100_000, 500_000, 1_000_000]);
      const s = r.pick(['a', 'é', '🙂', '\\n', '"']).repeat(Math.floor(n / 4));
      setText(body, s);
      return `huge string ${s.length} chars`;
    }
    case 11:
      return 'truncated JSON'; // applied on the text
    case 12: {
      body.stream = r.pick([true, false, 'true', 1, null, {}]);
      if (r.chance(0.5)) body.stream_options = randomValue(r);
      return `stream=${JSON.stringify(body.stream)}`;
    }
    case 13: {
      const n = r.pick([2_000, 10_000]);
      if (body.messages)
        body.messages = Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' }));
      else body.stop = Array.from({ length: n }, () => 'x');
      return `${n} messages/stops`;
    }
    case 14: {
      body.model = r.pick(['', 'missing-target', 'x'.repeat(10_000), { name: 'oa' }, ['oa'], null, '../oa', 'oa\u0000']);
      return `model ${JSON.stringify(body.model).slice(0, 30)}`;
    }
    default: {
      const root = r.pick(['[]', '"string"', '42', 'null', 'true', '{}', '', '{"model":"oa","model":"an"}', 'a=1&b=2']);
      body.__raw = root;
      return `root ${root.slice(0, 20) || '(empty)'}`;
    }
  }
}

interface Case {
  i: number;
  route: RouteKey;
  token: 'main' | 'restricted' | 'none' | 'wrong';
  label: string;
  bytes: Buffer;
  contentType: string;
}

function makeCase(i: number): Case {
  // One PRNG per case (seed, index): any single case can be regenerated alone.
  const r = prng((SEED * 1_000_003 + i) >>> 0);
  const route = r.pick([
    'openai_chat',
    'openai_chat',
    'anthropic_messages',
    'anthropic_messages',
    'sipp_chat',
    'sipp_query',
  ] as const);
  const model = r.pick(['oa', 'an']);
  const body = baseBody(r, route, model);
  const labels: string[] = [];
  let truncate = false;
  for (let k = 1 + r.int(2); k > 0; k--) {
    let l: string;
    try {
      l = mutate(r, route, body);
    } catch (err) {
      l = `mutation skipped (${(err as Error).message.slice(0, 40)})`; // an earlier mutation left no place for it
    }
    if (l === 'truncated JSON') truncate = true;
    labels.push(l);
  }
  let text: string;
  if (typeof body.__raw === 'string') text = body.__raw;
  else {
    // JSON.stringify drops undefined fields.
    text = JSON.stringify(body);
    if (text.includes(JSON.stringify(DEEP).slice(1, -1))) text = text.split(JSON.stringify(DEEP)).join(deepText(r));
    text = text.split(JSON.stringify(SURROGATE).slice(1, -1)).join('\\ud800');
  }
  if (truncate) text = text.slice(0, r.int(Math.max(1, text.length)));
  let bytes = Buffer.from(text, 'utf8');
  const bad = Buffer.from(JSON.stringify(BAD_UTF8).slice(1, -1), 'utf8');
  for (let at = bytes.indexOf(bad); at !== -1; at = bytes.indexOf(bad)) {
    bytes = Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
      bytes.subarray(at + bad.length),
    ]);
  }
  const token = r.pick(['main', 'main', 'main', 'main', 'main', 'main', 'restricted', 'none', 'wrong'] as const);
  const contentType = r.chance(0.03) ? r.pick(['text/plain', 'application/x-www-form-urlencoded', '']) : 'application/json';
  return { i, route, token, label: labels.join('; '), bytes, contentType };
}

const SECRETS = {
  token: 'fuzz-main-token-5b1e9c0d7a3f4e2b',
  restricted: 'fuzz-restricted-token-8c2d4f6a1b3e',
  admin: 'fuzz-admin-password-0f9e8d7c6b5a',
};

const started = Date.now();
const upOpenAI = await startUpstream('openai');
const upAnthropic = await startUpstream('anthropic');
const logChunks: Buffer[] = [];
let logBytes = 0;
const gateway = await startBenchGateway(
  `[[tokens]]
env = "FUZZ_RESTRICTED"
caller = "restricted"
targets = ["oa"]
[[targets]]
name = "oa"
type = "openai_compatible"
model = "bench-model"
base_url = "${upOpenAI.url}"
token_env = "FUZZ_OPENAI_KEY"
[[targets]]
name = "an"
type = "anthropic"
model = "claude-bench"
base_url = "${upAnthropic.url}"
api_key_env = "FUZZ_ANTHROPIC_KEY"
`,
  SECRETS.token,
  {
    BENCH_ADMIN: SECRETS.admin,
    FUZZ_RESTRICTED: SECRETS.restricted,
    FUZZ_OPENAI_KEY: upOpenAI.apiKey,
    FUZZ_ANTHROPIC_KEY: upAnthropic.apiKey,
  },
  {
    onOutput: (chunk) => {
      // Keep the log for the secret scan; bounded (the scan also runs on every chunk as it arrives).
      if (logBytes < 256 * 1024 * 1024) logChunks.push(chunk);
      logBytes += chunk.length;
    },
  },
);
// A crash of this script must not leave the children running.
process.on('exit', () => [gateway, upOpenAI, upAnthropic].forEach((c) => c.proc.kill('SIGKILL')));
const secrets: Record<string, string> = { ...SECRETS, openai_key: upOpenAI.apiKey, anthropic_key: upAnthropic.apiKey };
const leaks: string[] = [];
const scan = (where: string, text: string) => {
  for (const [name, value] of Object.entries(secrets)) if (text.includes(value)) leaks.push(`${name} in ${where}`);
};

rmSync(OUT_DIR, { recursive: true, force: true });
mkdirSync(OUT_DIR, { recursive: true });
const pid = gateway.proc.pid!;
const monitor = startMonitor(pid, gateway.mgmt);
const byStatus = new Map<number, number>();
const byRoute = new Map<string, Map<number, number>>();
const fivexx: { c: Case; status: number; code: string; file: string }[] = [];
const hangs: { c: Case; error: string; file: string }[] = [];
const slowest: { i: number; ms: number; label: string }[] = [];
// One line per case (index, route, token, status, error code, mutations): diff two runs of a seed to see what changed.
const cases: string[] = [];
let streamed = 0;

function errorCode(text: string): string {
  try {
    const j = JSON.parse(text);
    return String(j?.error?.code ?? j?.error?.type ?? '?');
  } catch {
    const m = /"(?:code|type)"\s*:\s*"([a-z_]+)"/.exec(text);
    return m?.[1] ?? '?';
  }
}

function save(c: Case, tag: string): string {
  const file = join(OUT_DIR, `${String(c.i).padStart(5, '0')}-${c.route}-${tag}.body`);
  writeFileSync(file, c.bytes);
  writeFileSync(
    `${file}.txt`,
    `seed ${SEED} case ${c.i}\nPOST ${PATHS[c.route]}\ncontent-type: ${c.contentType}\ntoken: ${c.token}\nmutations: ${c.label}\n` +
      `replay: curl -sS http://127.0.0.1:8080${PATHS[c.route]} -H "authorization: Bearer $TOKEN"${c.route === 'anthropic_messages' ? " -H 'anthropic-version: 2023-06-01'" : ''} -H 'content-type: ${c.contentType}' --data-binary @${file}\n`,
  );
  return file;
}

async function send(c: Case): Promise<void> {
  const headers: Record<string, string> = { 'content-type': c.contentType };
  if (c.token === 'main') headers.authorization = `Bearer ${SECRETS.token}`;
  else if (c.token === 'restricted') headers.authorization = `Bearer ${SECRETS.restricted}`;
  else if (c.token === 'wrong') headers.authorization = 'Bearer not-a-real-token-000000000000';
  if (c.route === 'anthropic_messages') headers['anthropic-version'] = '2023-06-01';
  if (!c.contentType) delete headers['content-type'];
  const t0 = performance.now();
  try {
    const res = await fetch(`http://127.0.0.1:${gateway.port}${PATHS[c.route]}`, {
      method: 'POST',
      headers,
      body: c.bytes,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) streamed++;
    scan(`response to case ${c.i}`, text + JSON.stringify([...res.headers]));
    byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
    const rm = byRoute.get(c.route) ?? new Map<number, number>();
    rm.set(res.status, (rm.get(res.status) ?? 0) + 1);
    byRoute.set(c.route, rm);
    if (SAVE.has(c.i)) save(c, `saved-${res.status}`);
    cases[c.i] = [c.i, c.route, c.token, res.status, res.status >= 400 ? errorCode(text) : '', c.label].join('\t');
    // A stream that began 200 and failed later carries its error in the frames: count in-stream `internal` too.
    const inStreamInternal = res.status === 200 && /"(?:code|type)"\s*:\s*"internal"/.test(text);
    if (res.status >= 500 || inStreamInternal) {
      const code = inStreamInternal ? 'internal (in stream)' : errorCode(text);
      fivexx.push({ c, status: res.status, code, file: save(c, String(res.status)) });
    }
  } catch (err) {
    cases[c.i] = [c.i, c.route, c.token, 'no answer', '', c.label].join('\t');
    hangs.push({
      c,
      error: (err as Error).name === 'TimeoutError' ? `no complete answer in ${TIMEOUT_MS / 1000} s` : String(err),
      file: save(c, 'noanswer'),
    });
  }
  const ms = performance.now() - t0;
  slowest.push({ i: c.i, ms, label: `${c.route}: ${c.label}` });
  slowest.sort((a, b) => b.ms - a.ms);
  slowest.length = Math.min(slowest.length, 5);
}

const rssBefore = monitor.report.rss[0]?.bytes ?? 0;
let next = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < COUNT) {
      const i = next++;
      await send(makeCase(i));
      if ((i + 1) % 250 === 0) process.stderr.write(`fuzz: ${i + 1}/${COUNT}\n`);
    }
  }),
);
const mon = await monitor.stop();
const rssAfter = mon.rss[mon.rss.length - 1]?.bytes ?? 0;
const rssPeak = Math.max(...mon.rss.map((s) => s.bytes));
const alive = gateway.proc.exitCode === null;
await gateway.stop();
await upOpenAI.stop();
await upAnthropic.stop();
scan('gateway log', Buffer.concat(logChunks).toString('utf8'));
const uniqueLeaks = [...new Set(leaks)];

const internal = fivexx.filter((f) => f.status === 500 || f.code.startsWith('internal'));
const failed = internal.length > 0 || hangs.length > 0 || uniqueLeaks.length > 0 || mon.healthFailures > 0 || !alive;
const classes = [2, 4, 5].map((k) => [...byStatus].filter(([s]) => Math.floor(s / 100) === k).reduce((a, [, n]) => a + n, 0));
const report = [
  `## Fuzz (${new Date().toISOString()})`,
  '',
  `Seed ${SEED}, ${COUNT} bodies, concurrency ${CONCURRENCY}, ${((Date.now() - started) / 1000).toFixed(0)} s. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(
      ' ',
    )}, Node ${process.version}. Gateway, fake OpenAI-compatible upstream and fake Anthropic upstream are separate processes on loopback.`,
  '',
  `**Result: ${failed ? 'FAIL' : 'pass'}** — 2xx ${classes[0]}, 4xx ${classes[1]}, 5xx ${classes[2]}; gateway's own failures (500, or internal in a stream): ${internal.length}; no answer: ${hangs.length}; secrets seen: ${uniqueLeaks.length ? uniqueLeaks.join(', ') : 'none'} (scanned every response and ${mb(logBytes)} MB of gateway log for the bearer tokens, the admin password and both provider keys).`,
  '',
  '| route | ' + [...byStatus.keys()].sort().join(' | ') + ' |',
  '| --- | ' + [...byStatus.keys()].map(() => '---').join(' | ') + ' |',
  ...[...byRoute].map(
    ([route, m]) =>
      `| ${route} | ${[...byStatus.keys()]
        .sort()
        .map((s) => m.get(s) ?? 0)
        .join(' | ')} |`,
  ),
  '',
  `Streaming answers (text/event-stream): ${streamed}.`,
  '',
  `Gateway RSS: ${mb(rssBefore)} MB before → ${mb(rssAfter)} MB after (peak ${mb(rssPeak)} MB). Event-loop delay max (the gateway's own \`nodejs_eventloop_lag_max_seconds\`): ${mon.eventLoopMaxMs === null ? 'n/a' : `${mon.eventLoopMaxMs.toFixed(1)} ms`}. /healthz: ${mon.healthProbes} probes, ${mon.healthFailures} failed, slowest ${mon.healthMaxMs.toFixed(1)} ms. Gateway still running at the end: ${alive ? 'yes' : 'NO'}.`,
  '',
  `Slowest requests: ${slowest.map((s) => `#${s.i} ${s.ms.toFixed(0)} ms (${s.label.slice(0, 80)})`).join('; ')}.`,
  '',
  ...(fivexx.length
    ? [
        '### 5xx answers',
        '',
        '| case | route | status | code | mutations | body file |',
        '| --- | --- | --- | --- | --- | --- |',
        ...fivexx.map(
          (f) =>
            `| ${f.c.i} | ${f.c.route} | ${f.status} | ${f.code} | ${f.c.label.replace(/\|/g, '\\|').slice(0, 120)} | ${f.file} |`,
        ),
        '',
      ]
    : []),
  ...(hangs.length
    ? [
        '### No answer',
        '',
        ...hangs.map((h) => `- case ${h.c.i} ${h.c.route}: ${h.error} (${h.c.label.slice(0, 120)}) — ${h.file}`),
        '',
      ]
    : []),
].join('\n');
process.stdout.write(`${report}\n`);
writeFileSync(join('bench-results', 'fuzz.md'), report);
writeFileSync(join(OUT_DIR, 'cases.tsv'), `${cases.join('\n')}\n`);
process.exitCode = failed ? 1 : 0;
