/** Runs the built CLI as a child process, as operators do. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { postJson } from './http.js';
import { CLI, NODE_ARGS } from './paths.js';

export { CLI, NODE_ARGS };

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// Bounds (here and below) only stop a hung process: generous, since a loaded machine starts node slowly.
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function startServe(configPath: string, env: Record<string, string>): ServeProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, CLI, 'serve', '--config', configPath], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Polls a URL until it answers `status` (or throws after timeoutMs). */
export async function waitForStatus(url: string, status: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === status) return;
      last = String(r.status);
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}

/**
 * A configuration for `serve` on fixed ports: admin password in env `ADMIN_PW`,
 * one token in env `GW_TOKEN` (its caller `caller`), one openai_compatible
 * target `chat` on `upstreamUrl` whose key is in env `UPSTREAM_KEY`. `extra`
 * holds top-level keys (it comes before any table).
 */
export function serveToml(upstreamUrl: string, pub: number, mgmt: number, caller: string, extra = ''): string {
  return `public_bind = "127.0.0.1:${pub}"
management_bind = "127.0.0.1:${mgmt}"
admin_password_env = "ADMIN_PW"
${extra}
[security]
[[tokens]]
env = "GW_TOKEN"
caller = "${caller}"
[[targets]]
name = "chat"
type = "openai_compatible"
model = "m"
base_url = "${upstreamUrl}"
token_env = "UPSTREAM_KEY"
`;
}

/** Waits until a started `serve` is ready (`/readyz` on `mgmt`), then asserts that it answers a chat request to `chat` on `pub`. */
export async function expectServing(pub: number, mgmt: number, token: string): Promise<void> {
  await waitForStatus(`http://127.0.0.1:${mgmt}/readyz`, 200);
  const r = await postJson(
    `http://127.0.0.1:${pub}/v1/chat`,
    { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
    { token },
  );
  assert.equal(r.status, 200, r.text);
}
