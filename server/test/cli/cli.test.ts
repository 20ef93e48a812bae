/**
 * The CLI as a process: `check` validates without secrets, `serve` refuses to
 * start on missing/blank secrets, whitespace in tokens and taken ports (naming
 * the variable, never its value; placeholders from .env.example too), and
 * drains then exits 0 on SIGTERM/SIGINT, also when npm's shell swallows them.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { CLI, expectServing, NODE_ARGS, runCli, serveToml, startServe, waitForStatus } from '../support/cli.js';
import { FROM_SOURCE, SERVER_ROOT } from '../support/paths.js';
import { freePort, until } from '../support/wait.js';
import { portRefuses } from './ports.js';

const dir = mkdtempSync(join(tmpdir(), 'sipp-cli-'));
const TOKEN = 'tok-cli-secret-value-123';

function writeConfig(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const config = (upstreamUrl: string, pub: number, mgmt: number, extra = ''): string =>
  serveToml(upstreamUrl, pub, mgmt, 'cli', extra);

describe('sipp-gateway CLI', () => {
  let upstream: FakeOpenAI;
  before(async () => {
    upstream = await startFakeOpenAI();
  });
  after(async () => {
    await upstream?.close();
  });
  const env = () => ({ ADMIN_PW: 'admin-pw-cli-0123456789', GW_TOKEN: TOKEN, UPSTREAM_KEY: upstream.apiKey });

  it('check prints "configuration is valid" and reads no secret', async () => {
    const path = writeConfig('valid.toml', config(upstream.url, 18080, 19090));
    const r = await runCli(['check', '--config', path], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `configuration is valid: ${path}\n`);
  });

  it('check names the first problem and exits non-zero', async () => {
    const path = writeConfig(
      'bad.toml',
      config(upstream.url, 18080, 19090).replace('caller = "cli"', 'caller = "cli"\ncolour = "red"'),
    );
    const r = await runCli(['check', '--config', path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown key "colour" in tokens\[0\]/);
    assert.equal(r.stdout, '');
  });

  it("check holds [[tokens]] rpm and tpm to the managed keys' bounds, naming the field (docs/configuration.md#tokens)", async () => {
    const limits = (rpm: number, tpm: number) =>
      writeConfig(
        'limits.toml',
        config(upstream.url, 18080, 19090).replace('caller = "cli"', `caller = "cli"\nrpm = ${rpm}\ntpm = ${tpm}`),
      );
    const atMax = limits(100_000_000, 1_000_000_000_000);
    assert.equal((await runCli(['check', '--config', atMax])).stdout, `configuration is valid: ${atMax}\n`);
    for (const [rpm, tpm, problem] of [
      [100_000_001, 1, 'tokens[0].rpm: must be <= 100000000'],
      [0, 1, 'tokens[0].rpm: must be > 0'],
      [1, 1_000_000_000_001, 'tokens[0].tpm: must be <= 1000000000000'],
      [1, 0, 'tokens[0].tpm: must be > 0'],
    ] as const) {
      const path = limits(rpm, tpm);
      const r = await runCli(['check', '--config', path]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `sipp-gateway: error: ${path}: ${problem}\n`);
    }
  });

  it('check reports a missing file and usage errors', async () => {
    const missing = await runCli(['check', '--config', join(dir, 'nope.toml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read config file .*nope\.toml \(ENOENT\)/);
    const noConfig = await runCli(['check']);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /check needs --config FILE/);
    const unknown = await runCli(['launch', '--config', 'x']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "launch"/);
    const version = await runCli(['--version']);
    assert.match(version.stdout, /^sipp-gateway \d+\.\d+\.\d+/);
  });

  it('serve refuses missing, blank or short secrets, all of them in one message, naming the variables but never a value', async () => {
    const path = writeConfig('serve.toml', config(upstream.url, await freePort(), await freePort()));
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ...env(), ADMIN_PW: '' }, /ADMIN_PW \(admin_password_env\) is blank/],
      [{ GW_TOKEN: TOKEN, UPSTREAM_KEY: 'k' }, /ADMIN_PW \(admin_password_env\) is not set/],
      [{ ...env(), GW_TOKEN: '   ' }, /GW_TOKEN \(tokens\[0\]\.env\) is blank/],
      [{ ADMIN_PW: 'a', GW_TOKEN: TOKEN }, /UPSTREAM_KEY \(targets\[0\]\.token_env\) is not set/],
      [{ ...env(), GW_TOKEN: 'has space-SECRETPART' }, /GW_TOKEN \(tokens\[0\]\.env\) contains whitespace/],
      [
        { ...env(), ADMIN_PW: 'replace-with-admin-password' },
        /ADMIN_PW \(admin_password_env\) still holds the placeholder value from \.env\.example/,
      ],
      [
        { ...env(), UPSTREAM_KEY: 'replace-with-compatible-provider-token' },
        /UPSTREAM_KEY \(targets\[0\]\.token_env\) still holds the placeholder/,
      ],
      [{ ...env(), GW_TOKEN: 'Qz9shortTok' }, /GW_TOKEN \(tokens\[0\]\.env\) is shorter than 16 characters/],
      [
        { ADMIN_PW: 'Qz9adm', GW_TOKEN: '  ' },
        /^sipp-gateway: error: 3 secrets cannot be used:\n {2}- environment variable ADMIN_PW \(admin_password_env\) is shorter than 16 characters .*\n {2}- environment variable GW_TOKEN \(tokens\[0\]\.env\) is blank\n {2}- environment variable UPSTREAM_KEY \(targets\[0\]\.token_env\) is not set\n$/,
      ],
    ];
    for (const [e, re] of cases) {
      const r = await runCli(['serve', '--config', path], e);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
      for (const v of Object.values(e))
        if (v.trim().length > 2) assert.ok(!r.stderr.includes(v) && !r.stdout.includes(v), 'secret value printed');
      assert.ok(!r.stderr.includes('SECRETPART'));
    }
  });

  const unbuilt = FROM_SOURCE && !existsSync(join(SERVER_ROOT, 'dist/src/cli.js'));
  it(
    'the committed bin entry runs the built CLI, and says to build first when it is missing',
    { skip: unbuilt && 'needs `npm run build`' },
    async () => {
      const bin = join(SERVER_ROOT, 'bin/sipp-gateway.js');
      const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
      assert.equal(version.status, 0, version.stderr);
      assert.match(version.stdout, /^sipp-gateway \d+\.\d+\.\d+/);
      const unbuilt = join(dir, 'unbuilt-checkout');
      mkdirSync(join(unbuilt, 'bin'), { recursive: true });
      copyFileSync(bin, join(unbuilt, 'bin/sipp-gateway.js'));
      const r = spawnSync(process.execPath, [join(unbuilt, 'bin/sipp-gateway.js'), 'check', '--config', 'x.toml'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        'sipp-gateway: error: the gateway is not built yet (server/dist/src/cli.js is missing); run `npm run build` first, from the repository root\n',
      );
    },
  );

  it('check explains a missing [security] table as a sentence about the file', async () => {
    const path = writeConfig('nosec.toml', config(upstream.url, 18080, 19090).replace('[security]\n', ''));
    const r = await runCli(['check', '--config', path]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `sipp-gateway: error: ${path}: missing required table [security] (it may be empty)\n`);
  });

  it('SIPP_GATEWAY_PUBLIC_BIND / SIPP_GATEWAY_MANAGEMENT_BIND replace the binds of the file', async () => {
    const pub = await freePort();
    const mgmt = await freePort();
    const path = writeConfig('override.toml', config(upstream.url, 1, 2));
    const bad = await runCli(['check', '--config', path], { SIPP_GATEWAY_PUBLIC_BIND: 'localhost' });
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /public_bind: must be "host:port" .*\(the value comes from the environment variable SIPP_GATEWAY_PUBLIC_BIND\)/,
    );
    const overrides = { SIPP_GATEWAY_PUBLIC_BIND: `127.0.0.1:${pub}`, SIPP_GATEWAY_MANAGEMENT_BIND: `127.0.0.1:${mgmt}` };
    const proc = startServe(path, { ...env(), ...overrides, SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5' });
    try {
      await expectServing(pub, mgmt, TOKEN);
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0);
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it('started by npm through a shell that dies on SIGTERM (npx, npm start), it still drains, exits and frees its ports', async () => {
    const pub = await freePort();
    const mgmt = await freePort();
    const path = writeConfig('npm-parent.toml', config(upstream.url, pub, mgmt));
    // npm runs commands as `sh -c …`; npm forwards SIGTERM to that shell, which dies
    // without passing it on. npm_lifecycle_event is how npm marks its children.
    const shell = spawn(
      'sh',
      [
        '-c',
        `"${process.execPath}" ${NODE_ARGS.map((a) => `"${a}"`).join(' ')} "${CLI}" serve --config "${path}"; echo shell-went-on`,
      ],
      {
        env: { PATH: process.env.PATH ?? '', ...env(), npm_lifecycle_event: 'npx', SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let stderr = '';
    shell.stderr!.on('data', (d) => (stderr += d));
    try {
      await waitForStatus(`http://127.0.0.1:${mgmt}/readyz`, 200);
      shell.kill('SIGTERM');
      await until(async () => (await portRefuses(pub)) && (await portRefuses(mgmt)), 'both ports to be freed');
      await until(() => stderr.includes('the npm process that started the gateway is gone, draining'), 'the drain message');
    } finally {
      try {
        process.kill(-shell.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
  });

  it('serve refuses a bind address that is in use, naming the field', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const path = writeConfig('taken.toml', config(upstream.url, taken, await freePort()));
      const r = await runCli(['serve', '--config', path], env());
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`public_bind 127\\.0\\.0\\.1:${taken} is already in use`));
      // …and says how to move it: the key, its environment override and where both are documented.
      assert.match(
        r.stderr,
        /is already in use; stop what holds it, or move the gateway: set public_bind in the config file or SIPP_GATEWAY_PUBLIC_BIND=host:port in the environment \(docs\/configuration\.md#environment-variables\)/,
      );
      const path2 = writeConfig('taken2.toml', config(upstream.url, await freePort(), taken));
      const r2 = await runCli(['serve', '--config', path2], env());
      assert.equal(r2.code, 1);
      assert.match(
        r2.stderr,
        /management_bind .* is already in use; .*SIPP_GATEWAY_MANAGEMENT_BIND=host:port .*docs\/configuration\.md#environment-variables/,
      );
    } finally {
      blocker.close();
    }
  });

  it('serve reports a missing model file before it listens, naming the directory a relative path was read from', async () => {
    const path = writeConfig(
      'missing-model.toml',
      config(upstream.url, await freePort(), await freePort()) +
        '[[targets]]\nname = "llm"\ntype = "local"\nmodel = "models/absent-cli-model.gguf"\n',
    );
    const r = await runCli(['serve', '--config', path], { ...env(), LOG_LEVEL: 'info' });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `sipp-gateway: error: local target "llm": model file "models/absent-cli-model.gguf" (relative to the working directory ${process.cwd()}) does not exist\n`,
    );
    assert.doesNotMatch(r.stdout, /"msg":"listening"/, 'reported before the listeners bind');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`serve answers, then drains and exits 0 on ${signal}`, async () => {
      const pub = await freePort();
      const mgmt = await freePort();
      const path = writeConfig(`run-${signal}.toml`, config(upstream.url, pub, mgmt));
      const proc = startServe(path, { ...env(), LOG_LEVEL: 'info', SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5' });
      try {
        await expectServing(pub, mgmt, TOKEN);
        upstream.setBehavior({ kind: 'slow', gapMs: 100 });
        const res = await fetch(`http://127.0.0.1:${pub}/v1/chat`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true }),
        });
        const body = res.text();
        proc.child.kill(signal);
        assert.match(await body, /event: done/, 'the in-flight stream completes during the drain');
        assert.equal(await proc.exited, 0);
        const lines = proc
          .stdout()
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        assert.ok(lines.some((l) => l.msg === 'listening'));
        assert.ok(lines.some((l) => l.msg === 'draining'));
        assert.ok(lines.some((l) => l.msg === 'stopped'));
        assert.ok(!proc.stdout().includes(TOKEN) && !proc.stdout().includes(upstream.apiKey));
      } finally {
        upstream.setBehavior({ kind: 'normal' });
        proc.child.kill('SIGKILL');
      }
    });
  }
});
