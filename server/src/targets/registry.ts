import type { TargetConfig } from '../config/schema.js';
import type { Target, TargetDeps } from './target.js';
import { createProviderTarget } from './providers/index.js';
import { createLocalTarget } from './local/index.js';

export function createTarget(config: TargetConfig, deps: TargetDeps): Target {
  return config.type === 'local' ? createLocalTarget(config, deps) : createProviderTarget(config, deps);
}
