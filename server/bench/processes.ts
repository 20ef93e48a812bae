/** Child processes for the benchmark: the fake upstream and the real gateway CLI. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/wait.js';

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

/** The first line a bench child prints on stdout, parsed as JSON (its address). */
function firstJsonLine<T>(proc: ChildProcess, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)) as T);
    });
    proc.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

/** A fake provider in its own process: OpenAI-compatible or Responses API (`url` ends in /v1), or Anthropic (`url` is the origin). */
export async function startUpstream(
  kind: 'openai' | 'anthropic' | 'responses' = 'openai',
): Promise<Child & { url: string; apiKey: string }> {
  const script = fileURLToPath(new URL('./upstream-process.js', import.meta.url));
  const proc = spawn(process.execPath, [script, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { url, apiKey } = await firstJsonLine<{ url: string; apiKey: string }>(proc, 'upstream');
  return { proc, url, apiKey, stop: stopper(proc) };
}

/** The floor proxy (floor-proxy.ts) in its own process, in front of an OpenAI-compatible upstream. */
export async function startFloorProxy(upstreamUrl: string, apiKey: string): Promise<Child & { port: number }> {
  const script = fileURLToPath(new URL('./floor-proxy.js', import.meta.url));
  const proc = spawn(process.execPath, [script, upstreamUrl, apiKey], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port } = await firstJsonLine<{ port: number }>(proc, 'floor proxy');
  return { proc, port, stop: stopper(proc) };
}

export async function startGatewayProcess(
  configPath: string,
  env: Record<string, string>,
  readyUrl: string,
  nodeArgs: readonly string[] = [],
  onOutput?: (chunk: Buffer) => void,
  cli: string = fileURLToPath(new URL('../src/cli.js', import.meta.url)),
): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--config', configPath], {
    env: { PATH: process.env.PATH ?? '', ...env },
    // With onOutput, the gateway's log lines (stdout) and stderr go to it (fuzz scans them for secrets).
    stdio: ['ignore', onOutput ? 'pipe' : 'ignore', onOutput ? 'pipe' : 'inherit'],
  });
  if (onOutput) {
    proc.stdout!.on('data', onOutput);
    proc.stderr!.on('data', onOutput);
  }
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

/**
 * The real gateway CLI on free loopback ports with a one-target bench config.
 * `targetToml` is the `[[targets]]` table (plus any sub-tables); the bearer
 * token comes from `token`, further env (provider keys) from `env`.
 * BENCH_GATEWAY_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
 * profiles the gateway process: the flags go on its node command line
 * (NODE_OPTIONS itself refuses --cpu-prof).
 * `options.topLevel` goes above the first table (top-level keys such as
 * `max_request_bytes`); `options.onOutput` receives the gateway's log output;
 * `options.cli` runs another build's CLI (an older checkout, baseline.ts);
 * `options.nodeArgs` go on its node command line after BENCH_GATEWAY_NODE_OPTIONS.
 */
export async function startBenchGateway(
  targetToml: string,
  token: string,
  env: Record<string, string> = {},
  options: { topLevel?: string; onOutput?: (chunk: Buffer) => void; cli?: string; nodeArgs?: readonly string[] } = {},
): Promise<Child & { port: number; mgmt: number }> {
  const [port, mgmt] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sipp-bench-'));
  const configPath = join(dir, 'bench.toml');
  writeFileSync(
    configPath,
    `public_bind = "127.0.0.1:${port}"
management_bind = "127.0.0.1:${mgmt}"
admin_password_env = "BENCH_ADMIN"
${options.topLevel ?? ''}
[security]
[[tokens]]
env = "BENCH_TOKEN"
caller = "bench"
${targetToml}`,
  );
  const nodeArgs = [...(process.env.BENCH_GATEWAY_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean), ...(options.nodeArgs ?? [])];
  try {
    const child = await startGatewayProcess(
      configPath,
      {
        BENCH_ADMIN: 'bench-admin-password',
        BENCH_TOKEN: token,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        ...env,
      },
      `http://127.0.0.1:${mgmt}/readyz`,
      nodeArgs,
      options.onOutput,
      options.cli,
    );
    return {
      proc: child.proc,
      port,
      mgmt,
      stop: async () => {
        await child.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
