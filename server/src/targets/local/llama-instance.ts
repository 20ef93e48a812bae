/**
 * One node-llama-cpp `Llama` (the loaded llama.cpp binding) per selected
 * backend, shared by every local target that uses it and disposed when the last
 * of them closes. Always `build: "never"`: prebuilt binaries only.
 */
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import type { Logger } from 'pino';
import { type SelectedBackend } from './backend.js';
import { BackendUnavailableError } from '../../errors.js';

interface Entry {
  llama: Promise<Llama>;
  refs: number;
}

const instances = new Map<SelectedBackend, Entry>();

export interface LlamaLease {
  llama: Llama;
  release(): Promise<void>;
}

export async function acquireLlama(backend: SelectedBackend, log: Logger): Promise<LlamaLease> {
  let entry = instances.get(backend);
  if (!entry) {
    entry = { llama: openLlama(backend, log), refs: 0 };
    instances.set(backend, entry);
    entry.llama.catch(() => instances.delete(backend));
  }
  entry.refs++;
  const held = entry;
  const llama = await held.llama.catch((err: unknown) => {
    held.refs--;
    throw err;
  });
  let released = false;
  return {
    llama,
    async release() {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0 && instances.get(backend) === held) {
        instances.delete(backend);
        await llama.dispose();
      }
    },
  };
}

async function openLlama(backend: SelectedBackend, log: Logger): Promise<Llama> {
  try {
    return await getLlama({
      gpu: backend === 'cpu' ? false : backend,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim();
        if (!text) return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) log.error({ component: 'llama.cpp' }, text);
        else log.warn({ component: 'llama.cpp' }, text);
      },
      // Thread counts are set per context (runtime.threads); don't cap them here.
      maxThreads: 0,
    });
  } catch (err) {
    if (backend !== 'cpu') throw new BackendUnavailableError(backend);
    throw err;
  }
}
