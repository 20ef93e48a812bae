import type { ProviderTargetConfig } from '../../config/schema.js';
import type { Target, TargetDeps } from '../target.js';

// Placeholder until the provider targets land (issue #2, in progress).
export function createProviderTarget(config: ProviderTargetConfig, _deps: TargetDeps): Target {
  throw new Error(`provider target type ${config.type} is not implemented yet`);
}
