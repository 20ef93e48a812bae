/**
 * docker-compose.scale.yml (docs/operations.md#scaling-out): three gateway replicas that each keep
 * the single-gateway deployment promises (compose.ts), a persistent Redis
 * they share, and an nginx load balancer in front of their public ports with
 * the shipped nginx example's streaming settings. Management ports stay on
 * 127.0.0.1, one per replica. Debian's docker-compose validates it when
 * installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseBind } from '../../src/config/schema.js';
import { composeProblems, parseMount, parsePort } from '../deployment/compose.js';
import { loadExampleConfig, readRepoFile, repoPath, secretEnvNames, which } from '../deployment/files.js';

const FILE = 'docker-compose.scale.yml';
const GATEWAYS = ['gateway1', 'gateway2', 'gateway3'];
const text = readRepoFile(FILE);
const doc = parseYaml(text, { merge: true }) as Record<string, any>;
const config = loadExampleConfig('config/docker-scale.toml');
const publicPort = parseBind(config.public_bind)!.port;
const managementPort = parseBind(config.management_bind)!.port;

/** The directives of the first `location` block matching the public routes. */
function publicLocation(conf: string): string[] {
  const start = conf.indexOf('location /v1/ {');
  assert.ok(start >= 0, 'a public-routes location');
  const body = conf.slice(conf.indexOf('{', start) + 1, conf.indexOf('\n    }', start));
  return body
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l.endsWith(';'));
}

describe(FILE, () => {
  test('the replicas run a Redis-backed config that check accepts', () => {
    assert.equal(config.state.backend, 'redis');
    assert.equal(config.security.client_ip.source, 'x_real_ip', 'the client address comes from the load balancer');
  });

  for (const name of GATEWAYS) {
    test(`${name} keeps every single-gateway deployment promise, its public port only behind the load balancer`, () => {
      const problems = composeProblems(doc, text, {
        service: name,
        configTarget: '/etc/sipp/gateway.toml',
        publicPort,
        managementPort,
        readinessRoute: config.routes.readiness,
        secretNames: [...secretEnvNames(config), config.state.url_env],
        minStopSeconds: 35,
        models: 'absent',
      });
      assert.deepEqual(
        problems.filter((p) => p !== `public port ${publicPort} is not published`),
        [],
      );
      const ports = (doc.services[name].ports as unknown[]).map(parsePort);
      assert.ok(!ports.some((p) => p.target === publicPort), 'the public port is reached through nginx only');
      const envFiles = doc.services[name].env_file as string[];
      assert.ok(envFiles.includes('.env.redis'), 'the Redis URL comes from the private .env.redis');
    });
  }

  test('one loopback management port per replica', () => {
    const published = GATEWAYS.map((g) =>
      (doc.services[g].ports as unknown[]).map(parsePort).find((p) => p.target === managementPort)!,
    );
    for (const p of published) assert.equal(p.hostIp, '127.0.0.1');
    assert.equal(new Set(published.map((p) => p.published)).size, GATEWAYS.length);
  });

  test('Redis persists its data, publishes no port and takes its password from the env file', () => {
    const redis = doc.services.redis;
    assert.equal(redis.ports, undefined);
    assert.match(redis.command.join(' '), /--appendonly yes/);
    assert.match(redis.command.join(' '), /--requirepass "\$\$REDIS_PASSWORD"/);
    assert.ok((redis.volumes as unknown[]).map(parseMount).some((m) => m.target === '/data' && m.type === 'volume'));
    assert.ok(doc.volumes && 'redis-data' in doc.volumes);
    assert.doesNotMatch(text, /replace-with-redis-password/);
  });

  test('nginx balances the three public ports with the nginx example streaming settings', () => {
    const lb = doc.services.lb;
    assert.deepEqual(
      (lb.ports as unknown[]).map(parsePort).map((p) => p.target),
      [8080],
    );
    const mount = (lb.volumes as unknown[]).map(parseMount).find((m) => m.target === '/etc/nginx/conf.d/default.conf');
    assert.ok(mount?.readOnly);
    const conf = readRepoFile(mount.source!.replace(/^\.\//, ''));
    for (const g of GATEWAYS) assert.match(conf, new RegExp(`server ${g}:${publicPort}\\b`));
    const example = publicLocation(readRepoFile('deploy/nginx/sipp-gateway.conf'));
    const streaming = example.filter((d) =>
      /^(proxy_buffering|proxy_cache|gzip|chunked_transfer_encoding|proxy_http_version|proxy_read_timeout|proxy_send_timeout|send_timeout|proxy_connect_timeout|proxy_set_header)\b/.test(
        d,
      ),
    );
    assert.ok(streaming.length >= 10);
    const mine = new Set(publicLocation(conf));
    assert.deepEqual(
      streaming.filter((d) => !mine.has(d)),
      [],
    );
  });

  test('docker-compose config accepts it', async (t) => {
    const bin = await which('docker-compose');
    if (!bin) {
      t.skip('docker-compose is not installed; the structural checks above still ran');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sipp-compose-scale-'));
    try {
      copyFileSync(repoPath(FILE), join(dir, FILE));
      copyFileSync(repoPath('.env.example'), join(dir, '.env'));
      copyFileSync(repoPath('.env.redis.example'), join(dir, '.env.redis'));
      const { stdout } = await promisify(execFile)(bin, ['-f', FILE, 'config'], {
        cwd: dir,
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? '' },
      });
      const normalized = parseYaml(stdout) as Record<string, any>;
      for (const g of GATEWAYS) {
        const mgmt = (normalized.services[g].ports as unknown[]).map(parsePort);
        assert.deepEqual(
          mgmt.map((p) => [p.hostIp, p.target]),
          [['127.0.0.1', managementPort]],
        );
        assert.equal(normalized.services[g].read_only, true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
