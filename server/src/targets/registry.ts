import type { TargetConfig } from '../config/schema.js';
import type { Target, TargetDeps } from './target.js';
import { createProviderTarget } from './providers/index.js';

/**
 * Builds a target from its configuration. The local module (and with it
 * node-llama-cpp's native binding) is imported only when a local target is
 * configured, so provider-only gateways start faster and use less memory.
 */
export async function createTarget(config: TargetConfig, deps: TargetDeps): Promise<Target> {
  if (config.type !== 'local') return createProviderTarget(config, deps);
  const { createLocalTarget } = await import('./local/index.js');
  return createLocalTarget(config, deps);
}
