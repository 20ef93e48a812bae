import type { LocalTargetConfig } from '../../config/schema.js';
import type { Target, TargetDeps } from '../target.js';
import { LocalTarget, type LocalTargetOptions } from './local-target.js';

export { LocalModelLoadError } from './model-loader.js';
export { selectBackend, BackendUnavailableError } from './backend.js';

/** `type = "local"` targets (docs/local-models.md): a GGUF model served in-process by llama.cpp. */
export function createLocalTarget(config: LocalTargetConfig, deps: TargetDeps, options?: LocalTargetOptions): Target {
  return new LocalTarget(config, deps, options);
}
