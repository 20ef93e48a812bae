/**
 * Loads a local target's GGUF model and its one shared generation context
 * (`parallel` sequences). Missing, unreadable or invalid files fail with a
 * message naming the target and the path.
 */
import { open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import type { LocalRuntime } from '../../config/local-runtime.js';
import type { SelectedBackend } from './backend.js';
import { LocalModelLoadError } from '../../errors.js';

/** Defined with every error class in errors.ts; re-exported for existing importers. */
export { LocalModelLoadError };

export interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  sequences: LlamaContextSequence[];
}

/**
 * Checks the file exists and is a regular file (what `serve` checks before it binds, targets/model-files.ts);
 * returns how messages name it. A relative path is read from the working directory (docs/configuration.md),
 * which the messages name.
 */
export async function checkModelPresent(target: string, path: string): Promise<string> {
  const from = isAbsolute(path) ? '' : ` (relative to the working directory ${process.cwd()})`;
  const where = `local target "${target}": model file "${path}"${from}`;
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LocalModelLoadError(code === 'ENOENT' ? `${where} does not exist` : `${where} cannot be read (${code ?? 'error'})`);
  }
  if (!info.isFile()) throw new LocalModelLoadError(`${where} is not a regular file`);
  return where;
}

/** Checks the file exists, is a regular readable file and starts with the GGUF magic. */
export async function checkModelFile(target: string, path: string): Promise<void> {
  const where = await checkModelPresent(target, path);
  let magic: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      magic = Buffer.alloc(4);
      await fh.read(magic, 0, 4, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new LocalModelLoadError(`${where} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (magic.toString('latin1') !== 'GGUF') throw new LocalModelLoadError(`${where} is not a GGUF file (bad magic)`);
}

/** When node-llama-cpp sends the decodes queued by the context's sequences to llama.cpp. */
export type DispatchSchedule = (dispatch: () => void) => void;

export async function loadModel(
  llama: Llama,
  target: string,
  path: string,
  backend: SelectedBackend,
  runtime: LocalRuntime,
  dispatchSchedule?: DispatchSchedule,
): Promise<LoadedModel> {
  await checkModelFile(target, path);
  let model: LlamaModel;
  try {
    model = await llama.loadModel({
      modelPath: path,
      gpuLayers: backend === 'cpu' ? 0 : runtime.gpu_layers,
    });
  } catch (err) {
    throw new LocalModelLoadError(`local target "${target}": model file "${path}" could not be loaded: ${reason(err)}`);
  }
  try {
    const context = await model.createContext({
      sequences: runtime.parallel,
      contextSize: runtime.context_size,
      batchSize: runtime.batch_size,
      threads: runtime.threads,
      ...(dispatchSchedule ? { batching: { dispatchSchedule } } : {}),
      // Fail instead of silently shrinking the context the operator asked for.
      failedCreationRemedy: false,
    });
    const sequences: LlamaContextSequence[] = [];
    for (let i = 0; i < runtime.parallel; i++) sequences.push(context.getSequence());
    return { model, context, sequences };
  } catch (err) {
    await model.dispose().catch(() => undefined);
    throw new LocalModelLoadError(`local target "${target}": could not create a context for "${path}": ${reason(err)}`);
  }
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.slice(0, 300);
}
