/**
 * Start-up check of the local targets' model files, before any listener binds: a missing or unreadable file
 * (or a directory) stops `serve` before its `listening` line (docs/local-models.md#loading-and-readiness).
 * Reading and loading the models (seconds to minutes) still happens after the listeners are up, behind readiness.
 */
import type { TargetConfig } from '../config/schema.js';
import { StartupError } from '../listen.js';
import { checkModelPresent, LocalModelLoadError } from './local/model-loader.js';

export async function checkModelFiles(targets: readonly TargetConfig[]): Promise<void> {
  for (const t of targets) {
    if (t.type !== 'local') continue;
    try {
      await checkModelPresent(t.name, t.model);
    } catch (err) {
      throw err instanceof LocalModelLoadError ? new StartupError(err.message) : err;
    }
  }
}
