import type { ProviderTargetConfig } from '../../config/schema.js';
import type { Target, TargetDeps } from '../target.js';
import { createAnthropicTarget } from './anthropic-target.js';
import { createOpenAITarget } from './openai-target.js';

/**
 * Builds an `openai`, `openai_compatible` or `anthropic` target. Reads its
 * credential once, here, through `deps.secret`; opens no connection yet.
 */
export function createProviderTarget(config: ProviderTargetConfig, deps: TargetDeps): Target {
  switch (config.type) {
    case 'openai':
    case 'openai_compatible':
      return createOpenAITarget(config, deps);
    case 'anthropic':
      return createAnthropicTarget(config, deps);
  }
}
