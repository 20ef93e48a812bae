/**
 * Child processes for the install/start tests: each runs in its own process
 * group, so a test can signal exactly the process a user would (npm, npx) and
 * still clean up everything below it.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Started {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGKILLs the whole process group (cleanup; ignores a group that is gone). */
  killGroup: () => void;
}

export function start(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Started {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    output: () => out,
    exited,
    killGroup: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** Runs a command to completion. */
export async function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | string; output: string }> {
  const p = start(command, args, options);
  try {
    const code = await p.exited;
    return { code, output: p.output() };
  } finally {
    p.killGroup();
  }
}

/**
 * The environment of a user's shell: this process's, minus what npm and the
 * test runner add for their own children (npm_* would point a nested npm at
 * this checkout) and minus the gateway's own variables.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      /^npm_/i.test(k) ||
      k === 'INIT_CWD' ||
      k === 'NODE_TEST_CONTEXT' ||
      k.startsWith('SIPP_') ||
      k === 'LOG_LEVEL' ||
      k === 'RUST_LOG'
    )
      continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}
