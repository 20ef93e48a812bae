/** Child processes for the benchmark: the fake upstream and the real gateway CLI. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Child {
  proc: ChildProcess;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
    });
}

export async function startUpstream(): Promise<Child & { url: string; apiKey: string }> {
  const script = fileURLToPath(new URL('./upstream-process.js', import.meta.url));
  const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(buf.slice(0, nl));
    });
    proc.once('exit', (code) => reject(new Error(`upstream exited (${code})`)));
  });
  const { url, apiKey } = JSON.parse(line) as { url: string; apiKey: string };
  return { proc, url, apiKey, stop: stopper(proc) };
}

export async function startGatewayProcess(configPath: string, env: Record<string, string>, readyUrl: string): Promise<Child> {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const proc = spawn(process.execPath, [cli, 'serve', '--config', configPath], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const end = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode})`);
    try {
      const r = await fetch(readyUrl);
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error('gateway did not become ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, stop: stopper(proc) };
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}
