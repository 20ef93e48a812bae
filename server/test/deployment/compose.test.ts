/**
 * docker-compose.yml and docker-compose.provider-only.yml keep the deployment
 * promises of docs/docker.md, checked without a Docker engine; when
 * Debian's `docker-compose` is installed, it validates and normalizes them too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseBind } from '../../src/config/schema.js';
import { composeProblems, parseDuration, parseMount, parsePort, type ComposeExpectations } from './compose.js';
import { loadExampleConfig, readRepoFile, repoPath, runCli, secretEnvNames, which } from './files.js';

const execFileAsync = promisify(execFile);
/** The CLI's default drain period (SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS unset) plus headroom to exit. */
const DRAIN_SECONDS = 30;

interface Stack {
  file: string;
  models: ComposeExpectations['models'];
}
const STACKS: Stack[] = [
  { file: 'docker-compose.yml', models: 'optional' },
  { file: 'docker-compose.provider-only.yml', models: 'absent' },
];

function load(file: string) {
  const text = readRepoFile(file);
  const doc = parseYaml(text) as Record<string, any>;
  const svc = doc.services.gateway;
  const configMount = (svc.volumes as unknown[]).map(parseMount).find((m) => m.target === '/etc/sipp/gateway.toml');
  assert.ok(configMount?.source, `${file}: no config mount`);
  const configPath = configMount.source.replace(/^\.\//, '');
  const config = loadExampleConfig(configPath);
  const pub = parseBind(config.public_bind)!;
  const mgmt = parseBind(config.management_bind)!;
  const expect: ComposeExpectations = {
    service: 'gateway',
    configTarget: '/etc/sipp/gateway.toml',
    publicPort: pub.port,
    managementPort: mgmt.port,
    readinessRoute: config.routes.readiness,
    secretNames: secretEnvNames(config),
    minStopSeconds: DRAIN_SECONDS + 5,
    models: 'optional',
  };
  return { text, doc, svc, configPath, config, expect };
}

const clone = <T>(v: T): T => structuredClone(v);

for (const stack of STACKS) {
  describe(stack.file, () => {
    const { text, doc, svc, configPath, config, expect } = load(stack.file);
    const expectations = { ...expect, models: stack.models };

    test('keeps every deployment promise', () => {
      assert.deepEqual(composeProblems(doc, text, expectations), []);
    });

    test('mounts a shipped config that `check` accepts, listening on every interface inside the container', async () => {
      assert.ok(existsSync(repoPath(configPath)), `${configPath} exists`);
      const res = await runCli(['check', '--config', configPath]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.trim(), `configuration is valid: ${configPath}`);
      // Inside a container, loopback binds would be unreachable through Docker's port forwarding.
      assert.equal(parseBind(config.public_bind)!.host, '0.0.0.0');
      assert.equal(parseBind(config.management_bind)!.host, '0.0.0.0');
    });

    test('the container ports it publishes are the ones the config binds', () => {
      const targets = (svc.ports as unknown[])
        .map(parsePort)
        .map((p) => p.target)
        .sort();
      assert.deepEqual(targets, [expect.publicPort, expect.managementPort].sort());
    });

    if (stack.models === 'absent') {
      test('has no local target, so it needs no model files', () => {
        assert.deepEqual(
          config.targets.filter((t) => t.type === 'local').map((t) => t.name),
          [],
        );
      });
    } else {
      test('every local model path lies in the read-only /models mount', () => {
        const models = (svc.volumes as unknown[]).map(parseMount).find((m) => m.target === '/models');
        const locals = config.targets.filter((t) => t.type === 'local');
        assert.ok(locals.length > 0, 'the default stack demonstrates a local target');
        assert.ok(models, 'a /models mount for the local target');
        assert.equal(models.readOnly, true);
        for (const t of locals) assert.match(t.model, /^\/models\//, `target ${t.name}`);
      });
    }
  });
}

describe('compose invariant checker rejects each broken promise', () => {
  const { text, doc, expect } = load('docker-compose.yml');
  const cases: Array<[string, (d: Record<string, any>) => void, RegExp]> = [
    [
      'management port on every interface',
      (d) => (d.services.gateway.ports = ['8080:8080', '9090:9090']),
      /management port 9090 is published on every interface/,
    ],
    [
      'management port on a public address',
      (d) => (d.services.gateway.ports = ['8080:8080', '0.0.0.0:9090:9090']),
      /published on 0\.0\.0\.0, not loopback/,
    ],
    [
      'management port missing',
      (d) => (d.services.gateway.ports = ['8080:8080']),
      /management port 9090 is not published on loopback/,
    ],
    ['public port missing', (d) => (d.services.gateway.ports = ['127.0.0.1:9090:9090']), /public port 8080 is not published/],
    ['host networking', (d) => (d.services.gateway.network_mode = 'host'), /network_mode: host/],
    [
      'config mounted read-write',
      (d) => (d.services.gateway.volumes[0].read_only = false),
      /\/etc\/sipp\/gateway\.toml is mounted read-write/,
    ],
    ['config not mounted', (d) => d.services.gateway.volumes.shift(), /nothing is mounted at \/etc\/sipp\/gateway\.toml/],
    [
      'writable models mount (short syntax)',
      (d) => (d.services.gateway.volumes[1] = './models:/models'),
      /mount \.\/models:\/models is writable/,
    ],
    [
      'secret inline in environment',
      (d) => (d.services.gateway.environment = { OPENAI_API_KEY: 'x' }),
      /environment sets OPENAI_API_KEY/,
    ],
    [
      'secret-looking variable in environment list',
      (d) => (d.services.gateway.environment = ['SOME_API_KEY=x']),
      /environment sets SOME_API_KEY/,
    ],
    ['no env_file', (d) => delete d.services.gateway.env_file, /env_file does not read the private \.env/],
    [
      'healthcheck with curl',
      (d) => (d.services.gateway.healthcheck.test = ['CMD', 'curl', '-f', 'http://127.0.0.1:9090/readyz']),
      /expected \["CMD", "node", \.\.\.\]|curl/,
    ],
    [
      'healthcheck on liveness instead of readiness',
      (d) => (d.services.gateway.healthcheck.test = ['CMD', 'node', '-e', "fetch('http://127.0.0.1:9090/healthz')"]),
      /does not probe readiness/,
    ],
    ['healthcheck disabled', (d) => (d.services.gateway.healthcheck = { disable: true }), /healthcheck is disabled/],
    ['writable root filesystem', (d) => (d.services.gateway.read_only = false), /read_only is not true/],
    ['no /tmp tmpfs', (d) => delete d.services.gateway.tmpfs, /no tmpfs for \/tmp/],
    ['no no-new-privileges', (d) => (d.services.gateway.security_opt = []), /no-new-privileges/],
    [
      'stop period shorter than the drain',
      (d) => (d.services.gateway.stop_grace_period = '10s'),
      /shorter than the gateway's 35s drain/,
    ],
    ['no stop period', (d) => delete d.services.gateway.stop_grace_period, /no stop_grace_period/],
    ['SIGKILL stop signal', (d) => (d.services.gateway.stop_signal = 'SIGKILL'), /stop_signal SIGKILL/],
    ['runs as root', (d) => (d.services.gateway.user = '0:0'), /runs the gateway as root/],
    ['privileged', (d) => (d.services.gateway.privileged = true), /privileged: true/],
  ];
  for (const [name, mutate, problem] of cases) {
    test(name, () => {
      const broken = clone(doc);
      mutate(broken);
      const problems = composeProblems(broken, text, expect);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem} in ${JSON.stringify(problems)}`,
      );
    });
  }

  test('a models mount in the provider-only stack', () => {
    const po = load('docker-compose.provider-only.yml');
    const broken = clone(po.doc);
    broken.services.gateway.volumes.push({ type: 'bind', source: './models', target: '/models', read_only: true });
    assert.ok(
      composeProblems(broken, po.text, { ...po.expect, models: 'absent' }).includes('the provider-only stack mounts /models'),
    );
  });

  test('a secret variable named anywhere in the file', () => {
    const problems = composeProblems(doc, `${text}\n# OPENAI_API_KEY=sk-live\n`, expect);
    assert.ok(problems.includes('the compose file names secret variable OPENAI_API_KEY'), JSON.stringify(problems));
  });
});

describe('compose syntax readers', () => {
  test('ports: short and long forms', () => {
    assert.deepEqual(parsePort('127.0.0.1:9090:9090'), { hostIp: '127.0.0.1', published: '9090', target: 9090 });
    assert.deepEqual(parsePort('[::1]:9090:9090/tcp'), { hostIp: '::1', published: '9090', target: 9090 });
    assert.deepEqual(parsePort('8080:8080'), { hostIp: undefined, published: '8080', target: 8080 });
    assert.deepEqual(parsePort('8080'), { hostIp: undefined, published: undefined, target: 8080 });
    assert.deepEqual(parsePort({ target: 9090, published: 9090, host_ip: '127.0.0.1' }), {
      hostIp: '127.0.0.1',
      published: '9090',
      target: 9090,
    });
  });
  test('volumes: short and long forms', () => {
    assert.deepEqual(parseMount('./config/docker.toml:/etc/sipp/gateway.toml:ro'), {
      source: './config/docker.toml',
      target: '/etc/sipp/gateway.toml',
      readOnly: true,
      type: 'bind',
    });
    assert.equal(parseMount('./models:/models:rw').readOnly, false);
    assert.equal(parseMount({ type: 'bind', source: './m', target: '/models', read_only: true }).readOnly, true);
  });
  test('durations', () => {
    assert.equal(parseDuration('45s'), 45);
    assert.equal(parseDuration('1m30s'), 90);
    assert.equal(parseDuration('forever'), null);
    assert.equal(parseDuration(undefined), null);
  });
});

describe('docker-compose (Debian package) accepts the stacks', () => {
  for (const stack of STACKS) {
    test(`docker-compose config: ${stack.file}`, async (t) => {
      const bin = await which('docker-compose');
      if (!bin) {
        t.skip(
          'docker-compose is not installed (apt-get install --no-install-recommends docker-compose); structural checks above still ran',
        );
        return;
      }
      const dir = mkdtempSync(join(tmpdir(), 'sipp-compose-'));
      try {
        copyFileSync(repoPath(stack.file), join(dir, stack.file));
        copyFileSync(repoPath('.env.example'), join(dir, '.env')); // env_file must exist for `config`
        const run = (args: string[]) =>
          execFileAsync(bin, ['-f', stack.file, ...args], { cwd: dir, timeout: 60_000, env: { PATH: process.env.PATH ?? '' } });
        await run(['config', '-q']);
        // docker-compose's own normalization agrees on the two promises that matter most.
        const { stdout } = await run(['config']);
        const normalized = parseYaml(stdout) as Record<string, any>;
        const svc = normalized.services.gateway;
        const mgmt = (svc.ports as unknown[]).map(parsePort).filter((p) => p.target === 9090);
        assert.equal(mgmt.length, 1);
        assert.equal(mgmt[0]!.hostIp, '127.0.0.1');
        const config = (svc.volumes as unknown[]).map(parseMount).find((m) => m.target === '/etc/sipp/gateway.toml');
        assert.equal(config?.readOnly, true);
        assert.equal(svc.read_only, true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
