/**
 * Smoke test of the container's start-up path without Docker: run the built
 * server exactly as the image does (its ENTRYPOINT + CMD, its ENV, a secret
 * for every variable .env.example lists) on a copy of the docker config whose binds
 * are loopback, probe readiness with the compose healthcheck command itself,
 * then SIGTERM and expect a clean exit 0.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { execForm, parseDockerfile, stageEnv } from './dockerfile.js';
import { NODE_ARGS } from '../support/paths.js';
import { CLI, parseDotenv, readRepoFile, REPO_ROOT, repoPath } from './files.js';

const IMAGE_CONFIG = '/etc/sipp/gateway.toml';

/** The image's command line and environment, mapped from /app onto this checkout. */
function imageInvocation(configCopy: string): { argv: string[]; env: Record<string, string> } {
  const df = parseDockerfile(readRepoFile('Dockerfile'));
  const runtime = df.stages.find((s) => s.name === 'runtime')!;
  const last = (kw: string) => runtime.instructions.filter((i) => i.keyword === kw).at(-1)!;
  const command = [...execForm(last('ENTRYPOINT').args), ...execForm(last('CMD').args)];
  assert.equal(command[0], 'sipp-gateway', 'the image runs the sipp-gateway wrapper');
  assert.ok(command.includes(IMAGE_CONFIG), 'the image reads the mounted config');
  // The wrapper is `exec node /app/server/dist/src/cli.js "$@"`.
  const argv = [CLI, ...command.slice(1).map((a) => (a === IMAGE_CONFIG ? configCopy : a))];
  const env: Record<string, string> = {};
  for (const [k, v] of stageEnv(runtime)) env[k] = v.replace(/^\/app(?=\/|$)/, REPO_ROOT);
  return { argv, env };
}

/** The compose healthcheck command, aimed at this run's management address. */
function healthcheckArgv(composeFile: string, managementHostPort: string): string[] {
  const doc = parseYaml(readRepoFile(composeFile)) as Record<string, any>;
  const test = doc.services.gateway.healthcheck.test as string[];
  assert.equal(test[0], 'CMD');
  assert.equal(test[1], 'node');
  return test.slice(2).map((a) => a.replaceAll('127.0.0.1:9090', managementHostPort));
}

function runProbe(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 10_000 }, (err) => {
      resolve(err ? (typeof err.code === 'number' ? err.code : -1) : 0);
    });
  });
}

/** The promise's value, or 'timeout' after `ms` (the timer does not outlive the promise). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface Running {
  child: ChildProcess;
  output: () => string;
  publicUrl: string;
  managementUrl: string;
  exited: Promise<number | null>;
}

/**
 * A value for every variable of .env.example, filled in as a user would (`serve`
 * refuses the `replace-with-…` placeholders themselves).
 */
function filledInEnvExample(): Map<string, string> {
  const vars = parseDotenv(readRepoFile('.env.example')).vars;
  return new Map([...vars].map(([name, value]) => [name, value.replace(/^replace-with-/, 'smoke-test-')]));
}

async function startLikeTheImage(configCopy: string, timeoutMs: number): Promise<Running> {
  const { argv, env } = imageInvocation(configCopy);
  const secrets = Object.fromEntries(filledInEnvExample());
  const child = spawn(process.execPath, [...NODE_ARGS, ...argv], {
    cwd: REPO_ROOT, // the image's WORKDIR /app
    env: { PATH: process.env.PATH ?? '', ...env, ...secrets, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
    if (line) {
      const { public: publicUrl, management: managementUrl } = JSON.parse(line) as { public: string; management: string };
      return { child, output: () => out, publicUrl, managementUrl, exited };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not start listening (exit ${child.exitCode}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitReady(managementUrl: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${managementUrl}/readyz`);
      const text = await res.text();
      if (res.status === 200) {
        assert.equal(text, 'ready');
        return;
      }
      assert.equal(res.status, 503, 'readiness is 503 until every target is loaded');
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
    }
    if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A local model the smoke run can load in place of the container's /models/model.gguf. */
function smokeModel(): string | null {
  const candidates = [repoPath('models/demo.gguf'), join(REPO_ROOT, '../shared/models/stories260K.gguf')];
  return candidates.find((p) => existsSync(p)) ?? null;
}

interface Case {
  config: string;
  compose: string;
  needsModel: boolean;
}
const CASES: Case[] = [
  { config: 'config/docker-provider-only.toml', compose: 'docker-compose.provider-only.yml', needsModel: false },
  { config: 'config/docker.toml', compose: 'docker-compose.yml', needsModel: true },
];

describe('smoke: the image command on the docker configs', () => {
  for (const c of CASES) {
    test(`serve ${c.config} as the image does: ready, healthcheck passes, SIGTERM exits 0`, { timeout: 180_000 }, async (t) => {
      let toml = readRepoFile(c.config);
      // Loopback binds on ephemeral ports (the container binds 0.0.0.0:8080/9090).
      assert.ok(toml.includes('"0.0.0.0:8080"') && toml.includes('"0.0.0.0:9090"'), 'the docker config binds every interface');
      toml = toml.replace('"0.0.0.0:8080"', '"127.0.0.1:0"').replace('"0.0.0.0:9090"', '"127.0.0.1:0"');
      if (c.needsModel) {
        const model = smokeModel();
        if (!model) {
          t.skip('no local model: run `npm run model:demo` (writes models/demo.gguf)');
          return;
        }
        assert.ok(toml.includes('"/models/model.gguf"'));
        toml = toml.replace('"/models/model.gguf"', JSON.stringify(model));
      }
      const dir = mkdtempSync(join(tmpdir(), 'sipp-smoke-'));
      const configCopy = join(dir, 'gateway.toml');
      writeFileSync(configCopy, toml);
      let gw: Running | undefined;
      try {
        gw = await startLikeTheImage(configCopy, 60_000);
        await waitReady(gw.managementUrl, 120_000, gw.output);

        const mgmtHostPort = new URL(gw.managementUrl).host;
        const probe = healthcheckArgv(c.compose, mgmtHostPort);
        assert.equal(await runProbe(probe), 0, 'the compose healthcheck passes on a ready gateway');

        // The public listener is up and authenticates; management routes are not served there.
        const unauth = await fetch(`${gw.publicUrl}/v1/query`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(unauth.status, 401);
        await unauth.text();
        const notHere = await fetch(`${gw.publicUrl}/readyz`);
        assert.notEqual(notHere.status, 200);
        await notHere.text();

        gw.child.kill('SIGTERM');
        const code = await within(gw.exited, 60_000);
        assert.equal(code, 0, `exit after SIGTERM:\n${gw.output()}`);
        assert.equal(await runProbe(probe), 1, 'the healthcheck fails once the gateway is gone');

        const output = gw.output();
        for (const [name, value] of filledInEnvExample()) {
          if (name === 'LOG_LEVEL') continue;
          assert.ok(!output.includes(value), `${name}'s value appears in the output`);
        }
      } finally {
        if (gw && gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
