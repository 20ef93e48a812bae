/**
 * Portkey's open-source gateway (`@portkey-ai/gateway`, pinned in
 * server/bench/portkey/package.json) for the same-run comparison. It is a
 * bench-only package outside the npm workspaces, so `npm ci` never installs
 * it: the bench installs it on demand (`npm ci` in server/bench/portkey, from
 * its own lockfile) the first time it runs. BENCH_PORTKEY=0 leaves it out.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/wait.js';
import type { Child } from './processes.js';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/portkey');
const SERVER = join(DIR, 'node_modules/@portkey-ai/gateway/build/start-server.js');

/** Installs the pinned release when missing; returns why not when it cannot. */
export function ensurePortkey(): string | null {
  if (existsSync(SERVER)) return null;
  process.stderr.write(`bench: installing Portkey's gateway in ${DIR}\n`);
  try {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: DIR,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (err) {
    return `could not install @portkey-ai/gateway (${(err as Error).message.split('\n')[0]})`;
  }
  return existsSync(SERVER) ? null : 'install finished without build/start-server.js';
}

export function portkeyVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(DIR, 'node_modules/@portkey-ai/gateway/package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '?';
  }
}

/** Starts it headless on a free loopback port (`--port`); ready once it answers HTTP. */
export async function startPortkey(): Promise<Child & { port: number }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [SERVER, `--port=${port}`, '--headless'], {
    cwd: DIR,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const end = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`portkey exited (${proc.exitCode})`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.arrayBuffer();
      break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error('portkey did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    port,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 5_000).unref();
      }),
  };
}
