import type { LocalTargetConfig } from '../../config/schema.js';
import type { Target, TargetDeps } from '../target.js';

// Placeholder until local targets land (issue #3, in progress).
export function createLocalTarget(config: LocalTargetConfig, _deps: TargetDeps): Target {
  throw new Error(`local target ${config.name} is not implemented yet`);
}
