/**
 * A real `redis-server` (Debian's package) for tests: loopback only, an
 * ephemeral port, a temp dir, append-only persistence, a password. It can be
 * killed (SIGKILL) and started again on the same port and data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './wait.js';

export interface TestRedis {
  port: number;
  password: string;
  /** redis://:password@127.0.0.1:port/0 */
  url: string;
  dir: string;
  running(): boolean;
  /** SIGKILL: no shutdown save, connections reset. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  restart(): Promise<void>;
  /** SIGSTOP: frozen, connections stay open but nothing answers. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Stops it and removes its data dir. */
  stop(): Promise<void>;
}

function launch(port: number, dir: string, password: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--requirepass',
      password,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--protected-mode',
      'yes',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not become ready on port ${port}:\n${out}`));
    }, 10_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(missing ? new Error('redis-server is not installed (apt-get install redis-server; .ci/run does it)') : err);
    });
  });
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once('exit', () => r()));

export async function startRedis(password = 'redis-secret-pw-4f2a9c'): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = await launch(port, dir, password);
  return {
    port,
    password,
    url: `redis://:${password}@127.0.0.1:${port}/0`,
    dir,
    running: () => child !== null,
    async kill() {
      if (!child) return;
      const c = child;
      child = null;
      c.kill('SIGKILL');
      await exited(c);
    },
    freeze() {
      if (!child) throw new Error('redis is not running');
      child.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async restart() {
      if (child) throw new Error('redis is still running');
      child = await launch(port, dir, password);
    },
    async stop() {
      if (child) {
        const c = child;
        child = null;
        c.kill('SIGCONT');
        c.kill('SIGTERM');
        await exited(c);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
