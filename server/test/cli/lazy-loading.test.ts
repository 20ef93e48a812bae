/**
 * What a provider-only gateway never loads (docs/operations.md#memory):
 * the CLI runs as operators run it, with a module-loader hook that records every
 * module Node loads through its ESM loader (the gateway's own modules and each
 * package's entry point), so the assertions read which code the process holds,
 * not timings or memory figures. Also: the young generation is held at its
 * initial size, and TurboFan is off, only while the CLI starts (src/util/startup-heap.ts).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { expectServing, serveToml, startServe, waitForStatus } from '../support/cli.js';
import { postJson } from '../support/http.js';
import { CLI, FROM_SOURCE, NODE_ARGS, SERVER_ROOT } from '../support/paths.js';
import { freePort } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'sipp-lazy-'));
const TOKEN = 'tok-lazy-secret-value-123';

// The hook runs on Node's loader thread and appends each loaded URL to the file named by LOADED_MODULES.
const hooks = join(dir, 'record-hooks.mjs');
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.LOADED_MODULES, url + '\\n');
  return next(url, context);
}
`,
);
const register = join(dir, 'record.mjs');
writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
// The ESM hook sees a CommonJS package's entry point only; at exit this writes every CommonJS file the process
// loaded (require.cache) to the file named by LOADED_CJS, and Node's own modules it loaded to LOADED_BUILTINS.
const cjsRecorder = join(dir, 'record-cjs.cjs');
writeFileSync(
  cjsRecorder,
  `process.on('exit', () => {
  require('node:fs').writeFileSync(process.env.LOADED_CJS, Object.keys(require.cache).join('\\n'));
  require('node:fs').writeFileSync(process.env.LOADED_BUILTINS, process.moduleLoadList.join('\\n'));
});\n`,
);

/** Packages and gateway modules a provider-only config must not load (each loads only with its feature). */
const NEVER_FOR_PROVIDERS: Array<[what: string, pattern: RegExp]> = [
  ['the local runtime (node-llama-cpp)', /\/node_modules\/node-llama-cpp\//],
  ['the PostgreSQL driver', /\/node_modules\/pg\//],
  ['the embedded database (PGlite)', /\/node_modules\/@electric-sql\/pglite\//],
  ['the Redis client', /\/node_modules\/ioredis\//],
  ['the OpenTelemetry SDK', /\/node_modules\/@opentelemetry\/(sdk-trace|resources|exporter-)/],
  ['the dashboard HTTP side', /\/src\/admin\/app\.[jt]s$/],
  ['the dashboard API', /\/src\/admin\/api\.[jt]s$/],
  ['the session store', /\/src\/admin\/auth\/sessions\.[jt]s$/],
  ['the usage writer', /\/src\/usage\/index\.[jt]s$/],
  ['the managed-key cache', /\/src\/keys\/service\.[jt]s$/],
  ['the keys command', /\/src\/keys\/cli\.[jt]s$/],
  ['the db migrate command', /\/src\/usage\/migrate-command\.[jt]s$/],
  // prom-client's entry point loads its Pushgateway (TLS), cluster aggregator and the OpenTelemetry API
  // (src/telemetry/prom.ts loads the metric classes without it); the OTel API loads only with tracing on.
  ["prom-client's entry point", /\/node_modules\/prom-client\/index\.js$/],
  ['the OpenTelemetry API', /\/node_modules\/@opentelemetry\/api\//],
];

/**
 * A provider-only gateway started as operators start it, with the recorders on: the files named
 * `loaded<suffix>.txt` (ESM), `loaded-cjs<suffix>.txt` and `loaded-builtins<suffix>.txt` (written at exit).
 */
async function startRecorded(suffix: string) {
  const [pub, mgmt] = [await freePort(), await freePort()];
  const config = join(dir, `providers${suffix}.toml`);
  writeFileSync(config, serveToml(upstream.url, pub, mgmt, 'lazy'));
  const loadedFile = join(dir, `loaded${suffix}.txt`);
  const cjsFile = join(dir, `loaded-cjs${suffix}.txt`);
  const builtinsFile = join(dir, `loaded-builtins${suffix}.txt`);
  writeFileSync(loadedFile, '');
  const proc = startServe(config, {
    ADMIN_PW: 'admin-pw-lazy-0123456789',
    GW_TOKEN: TOKEN,
    UPSTREAM_KEY: upstream.apiKey,
    LOG_LEVEL: 'warn',
    LOADED_MODULES: loadedFile,
    LOADED_CJS: cjsFile,
    LOADED_BUILTINS: builtinsFile,
    NODE_OPTIONS: `--import=${pathToFileURL(register).href} --require=${cjsRecorder}`,
  });
  return { pub, mgmt, proc, loadedFile, cjsFile, builtinsFile };
}

let upstream: FakeOpenAI;

describe('a provider-only gateway loads only what it uses', () => {
  before(async () => {
    upstream = await startFakeOpenAI();
  });
  after(async () => {
    await upstream?.close();
  });

  it('serves without the local runtime, database drivers, Redis, the tracing SDK or the dashboard code; the first admin request loads the dashboard', async () => {
    const { pub, mgmt, proc, loadedFile, cjsFile } = await startRecorded('');
    const loaded = () => readFileSync(loadedFile, 'utf8').split('\n').filter(Boolean);
    try {
      await expectServing(pub, mgmt, TOKEN);
      const served = loaded();
      // The recorder sees the gateway's own modules and package entry points (else the checks below prove nothing).
      assert.ok(
        served.some((u) => /\/src\/gateway\.[jt]s$/.test(u)),
        'the recorder saw gateway.js',
      );
      assert.ok(
        served.some((u) => /\/src\/admin\/index\.[jt]s$/.test(u)),
        'the recorder saw admin/index.js',
      );
      assert.ok(
        served.some((u) => /\/node_modules\/koa\//.test(u)),
        'the recorder saw a package entry point',
      );
      const held = NEVER_FOR_PROVIDERS.filter(([, p]) => served.some((u) => p.test(u))).map(([what]) => what);
      assert.deepEqual(held, [], `loaded by a provider-only gateway: ${held.join(', ')}`);

      // The dashboard's HTTP side is imported on the first request under the admin route, and answers it.
      const session = await fetch(`http://127.0.0.1:${mgmt}/admin/api/session`);
      assert.equal(session.status, 401);
      await session.arrayBuffer();
      const afterAdmin = loaded();
      assert.ok(
        afterAdmin.some((u) => /\/src\/admin\/app\.[jt]s$/.test(u)),
        'the dashboard loads on its first request',
      );
      assert.ok(afterAdmin.some((u) => /\/src\/admin\/api\.[jt]s$/.test(u)));
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    // Every CommonJS file the gateway loaded, the dashboard's included.
    const cjs = readFileSync(cjsFile, 'utf8').split('\n').filter(Boolean);
    assert.ok(
      cjs.some((f) => /\/node_modules\/koa\/lib\/application\.js$/.test(f)),
      'the recorder saw Koa',
    );
    const heldCjs = NEVER_FOR_PROVIDERS.filter(
      ([what, p]) => !/dashboard|session store/.test(what) && cjs.some((f) => p.test(f)),
    );
    assert.deepEqual(
      heldCjs.map(([what]) => what),
      [],
      'CommonJS modules a provider-only gateway must not load',
    );
    // One copy of each package (a lockfile that nested a second and third mime-db parsed its 200 KB table three
    // times); the root package.json's overrides keep it so. content-type is the exception: Koa 3 calls 1.x's
    // API, type-is 2.x's, a 5 KB module each.
    const ALLOWED_TWICE = new Set(['content-type']);
    const copies = new Map<string, Set<string>>();
    for (const f of cjs) {
      const m = /^(.*\/node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(f);
      if (m) copies.set(m[2]!, (copies.get(m[2]!) ?? new Set()).add(m[1]!));
    }
    const twice = [...copies]
      .filter(([name, dirs]) => dirs.size > 1 && !ALLOWED_TWICE.has(name))
      .map(([name, dirs]) => `${name}: ${[...dirs].join(', ')}`);
    assert.deepEqual(twice, [], 'packages loaded from more than one directory');
    assert.doesNotMatch(proc.stderr(), /unexpected failure|Error/, proc.stderr());
  });

  it("answers errors, model lists and probes without loading Node's bundled undici or node:http2", async () => {
    const { pub, mgmt, proc, cjsFile, builtinsFile } = await startRecorded('-errors');
    try {
      await expectServing(pub, mgmt, TOKEN);
      // JSON bodies set through Koa: a refused token, an unknown route, the model list, the management 404 and index.
      const refused = await postJson(`http://127.0.0.1:${pub}/v1/chat`, { model: 'chat', messages: [] }, { token: 'wrong' });
      assert.equal(refused.status, 401, refused.text);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
      assert.equal(typeof refused.body?.error, 'object', refused.text);
      const missing = await fetch(`http://127.0.0.1:${pub}/v1/nothing-here`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
      const models = await fetch(`http://127.0.0.1:${pub}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(models.status, 200);
      assert.equal(((await models.json()) as { object: string }).object, 'list');
      for (const path of ['/nothing-here', '/', '/healthz', '/metrics'])
        await (await fetch(`http://127.0.0.1:${mgmt}${path}`)).arrayBuffer();
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    // undici's HTTP/2 side and Node's HTTP/2 module stay unloaded after requests went upstream over HTTP/1.1
    // (src/targets/providers/undici-pool.ts), and so does Node's own undici, which the first touch of the global
    // `Response` loads (Koa does on a body that is not a string, Buffer or stream: src/http/json-body.ts).
    const cjs = readFileSync(cjsFile, 'utf8').split('\n').filter(Boolean);
    assert.ok(
      cjs.some((f) => /\/node_modules\/undici\/lib\/dispatcher\/client-h1\.js$/.test(f)),
      "the recorder saw undici's HTTP/1.1 client",
    );
    const builtins = readFileSync(builtinsFile, 'utf8').split('\n');
    assert.ok(builtins.includes('NativeModule http'), 'the builtins list names node:http');
    assert.ok(!builtins.includes('NativeModule internal/deps/undici/undici'), "Node's bundled undici is not loaded");
    assert.ok(!builtins.includes('NativeModule http2'), 'node:http2 is not loaded');
  });
});

describe('the young generation during start-up', () => {
  const module = pathToFileURL(
    join(SERVER_ROOT, FROM_SOURCE ? 'src/util/startup-heap.ts' : 'dist/src/util/startup-heap.js'),
  ).href;
  // Allocates objects that all survive (as module loading does) and prints the young generation's size in MB
  // once the module is imported, after the allocation, and after more of it once startupDone() was called.
  const script = `
import { getHeapSpaceStatistics } from 'node:v8';
const { startupDone } = await import(${JSON.stringify(module)});
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
const start = young();
const keep = [];
const allocate = () => { for (let i = 0; i < 300000; i++) keep.push({ i, s: 'x' + i, a: [i] }); };
allocate();
const during = young();
startupDone();
allocate();
console.log(JSON.stringify({ start, during, after: young(), kept: keep.length }));
`;
  const run = (nodeArgs: string[]) => {
    const r = spawnSync(process.execPath, [...NODE_ARGS, ...nodeArgs, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { start: number; during: number; after: number };
  };

  it('does not grow while the CLI starts, and grows again under allocation once started', () => {
    const { start, during, after } = run([]);
    // Unheld, this allocation grows the young generation to V8's cap (32 MB here); held, it keeps the size it had
    // (V8 may still take it to its initial 2 MB, when it started below that).
    assert.ok(during <= Math.max(start, 2), `young generation ${start} → ${during} MB during start-up`);
    assert.ok(after > during * 2, `young generation ${after} MB after start-up (was ${during} MB)`);
  });

  it('leaves a growth factor the operator set alone', () => {
    const { start, during } = run(['--semi-space-growth-factor=2']);
    assert.ok(during > start, `young generation ${start} → ${during} MB with the operator's factor`);
  });
});

describe('TurboFan during start-up', () => {
  const module = pathToFileURL(
    join(SERVER_ROOT, FROM_SOURCE ? 'src/util/startup-heap.ts' : 'dist/src/util/startup-heap.js'),
  ).href;
  // Runs a hot function (as start-up loops are) while held, then after listening(), and prints whether V8 had
  // optimized it (%GetOptimizationStatus bit 4: optimized by any tier) at each point. V8 tiers up by counting
  // executed bytecode, not by time; after listening() the script calls on until the concurrent compile lands.
  const script = `
const { listening } = await import(${JSON.stringify(module)});
const hot = (n) => { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; };
const optimized = () => (%GetOptimizationStatus(hot) & 16) !== 0;
const run = async (calls) => { for (let i = 0; i < calls; i++) { hot(200); if (i % 1000 === 0) await new Promise(setImmediate); } };
await run(20000);
const during = optimized();
listening();
let after = false;
for (let round = 0; round < 2000 && !after; round++) { await run(1000); after = optimized(); }
console.log(JSON.stringify({ during, after }));
`;
  const run = (nodeArgs: string[]) => {
    const r = spawnSync(
      process.execPath,
      [...NODE_ARGS, '--allow-natives-syntax', ...nodeArgs, '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { during: boolean; after: boolean };
  };

  it('optimizes nothing while the CLI starts, and optimizes hot code again once it listens', () => {
    assert.deepEqual(run([]), { during: false, after: true });
  });

  it("leaves the operator's compiler flags alone", () => {
    // The operator's --turbofan stays: the same hot start-up code is optimized before listening().
    assert.equal(run(['--turbofan']).during, true);
    // The operator's --no-opt stays too: nothing is optimized, even after listening().
    assert.deepEqual(run(['--no-opt']), { during: false, after: false });
  });

  it('the served gateway optimizes its request path under traffic', async () => {
    const upstream = await startFakeOpenAI();
    const [pub, mgmt] = [await freePort(), await freePort()];
    const config = join(dir, 'turbofan.toml');
    writeFileSync(
      config,
      `public_bind = "127.0.0.1:${pub}"
management_bind = "127.0.0.1:${mgmt}"
admin_password_env = "ADMIN_PW"
[security]
[[tokens]]
env = "GW_TOKEN"
caller = "lazy"
[[targets]]
name = "chat"
type = "openai_compatible"
model = "m"
base_url = "${upstream.url}"
token_env = "UPSTREAM_KEY"
`,
    );
    // --trace-opt prints a "completed compiling" line on stdout for each function TurboFan optimized.
    const child = spawn(process.execPath, [...NODE_ARGS, '--trace-opt', CLI, 'serve', '--config', config], {
      env: {
        PATH: process.env.PATH ?? '',
        ADMIN_PW: 'admin-pw-lazy-0123456789',
        GW_TOKEN: TOKEN,
        UPSTREAM_KEY: upstream.apiKey,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const optimizedSoFar = () => (out.match(/completed compiling/g) ?? []).length;
    try {
      await waitForStatus(`http://127.0.0.1:${mgmt}/readyz`, 200);
      const atStart = optimizedSoFar();
      // Requests until TurboFan has optimized something more (count-based in V8; bounded only against a hang).
      for (let i = 0; i < 20_000 && optimizedSoFar() === atStart; i++) {
        const r = await postJson(
          `http://127.0.0.1:${pub}/v1/chat`,
          { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
          { token: TOKEN },
        );
        assert.equal(r.status, 200);
      }
      assert.ok(optimizedSoFar() > atStart, 'TurboFan optimized nothing under traffic');
    } finally {
      child.kill('SIGTERM');
      await exited;
      await upstream.close();
    }
  });
});
