/**
 * Startup check of a GPU backend in a child process (docs/local-models.md#gpu-startup-check).
 *
 * node-llama-cpp's prebuilt GPU binaries can load and still fail at the first
 * kernel launch (a CUDA build whose kernels the installed driver cannot run:
 * measured with node-llama-cpp 3.22.1 on an H200 with driver 580 / CUDA 13.0,
 * "the provided PTX was compiled with an unsupported toolchain"). llama.cpp
 * then aborts the whole process, which in the gateway would take every other
 * target down with it at the first local request. So before a local target
 * uses a GPU backend, a short-lived child process loads the model with one
 * layer offloaded and decodes one token on that backend; if the child fails or
 * dies, the backend is not used (`auto` falls back to CPU with a warning, an
 * explicit backend is a startup error naming the reason).
 *
 * One check per backend and model file per process, shared by every target.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SelectedBackend } from './backend.js';

/** null when the backend ran a decode; otherwise why not, in one line. */
export type ProbeResult = string | null;

export interface ProbeOptions {
  /** The child's script (tests replace it); default `gpu-probe-child.js`. */
  script?: string;
  /** Bound on the whole check, model load included. */
  timeoutMs?: number;
}

// From source (tests run through tsx) the child is TypeScript too and needs the same loader.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CHILD = fileURLToPath(new URL(FROM_SOURCE ? './gpu-probe-child.ts' : './gpu-probe-child.js', import.meta.url));
const CHILD_ARGS = FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : [];
const DEFAULT_TIMEOUT_MS = 180_000;
const STDERR_KEEP = 64 * 1024;

/** The most telling line of the child's stderr: llama.cpp's own "... error: ..." line, else the last line. */
export function probeReason(stderr: string, exit: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[node-llama-cpp\]\s*/, '').trim())
    .filter(Boolean);
  const telling = lines.find((l) => /\berror\b/i.test(l) && !/^\/|ggml-cuda\.cu:\d+/.test(l)) ?? lines.at(-1);
  return telling ? `${exit}: ${telling.slice(0, 300)}` : exit;
}

export function probeBackend(backend: SelectedBackend, modelPath: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CHILD_ARGS, options.script ?? CHILD, backend, modelPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: process.env,
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_KEEP);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`no answer within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`);
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`could not start the check: ${err.message}`);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(null);
      resolve(probeReason(stderr, signal ? `the check died (${signal})` : `the check exited with ${code}`));
    });
  });
}

const cache = new Map<string, Promise<ProbeResult>>();

/** probeBackend, run once per backend and model file in this process. */
export function probeBackendOnce(backend: SelectedBackend, modelPath: string): Promise<ProbeResult> {
  const key = `${backend}\0${modelPath}`;
  let result = cache.get(key);
  if (!result) {
    result = probeBackend(backend, modelPath);
    cache.set(key, result);
  }
  return result;
}
