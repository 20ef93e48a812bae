/**
 * Runs the real `sipp-gateway serve` CLI as a child process on ephemeral
 * loopback ports and learns its URLs from the "listening" log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const CLI = join(ROOT, 'server/dist/src/cli.js');

/**
 * A gateway config for the e2e specs: ephemeral binds, the admin password env,
 * `security` (default: an empty `[security]` table) and the e2e client's token,
 * followed by `rest` (targets, groups, state...).
 */
export function e2eConfig(rest: string, security = '[security]'): string {
  return `public_bind = "127.0.0.1:0"
management_bind = "127.0.0.1:0"
admin_password_env = "SIPP_E2E_ADMIN_PASSWORD"

${security}

[[tokens]]
env = "SIPP_E2E_TOKEN"
caller = "e2e-client"

${rest}`;
}

/** An openai_compatible `[[targets]]` table on a fake upstream (test support/fake-upstream.ts). */
export function upstreamTarget(name: string, url: string, timeoutSeconds = 10): string {
  return `[[targets]]
name = "${name}"
type = "openai_compatible"
model = "served-model"
base_url = "${url}"
token_env = "SIPP_E2E_UPSTREAM_KEY"
timeout_seconds = ${timeoutSeconds}
`;
}

export interface GatewayProcess {
  publicUrl: string;
  managementUrl: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function startGatewayProcess(toml: string, env: Record<string, string>): Promise<GatewayProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'sipp-e2e-'));
  const config = join(dir, 'gateway.toml');
  await writeFile(config, toml);
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--config', config], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let buffered = '';
  const urls = new Promise<{ publicUrl: string; managementUrl: string }>((resolveUrls, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${logs.join('\n')}`)), 30_000);
    const onLine = (line: string) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; public?: string; management?: string };
        if (entry.msg === 'listening' && entry.public && entry.management) {
          clearTimeout(timer);
          resolveUrls({ publicUrl: entry.public.replace(/\/$/, ''), managementUrl: entry.management.replace(/\/$/, '') });
        }
      } catch {
        /* not JSON */
      }
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let i: number;
      while ((i = buffered.indexOf('\n')) !== -1) {
        onLine(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  const { publicUrl, managementUrl } = await urls;
  // Wait for readiness.
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${managementUrl}/readyz`).catch(() => null);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    publicUrl,
    managementUrl,
    logs,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
