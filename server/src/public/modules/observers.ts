/** Request observers (metrics, dashboard stats, fleet counters) as afterFinish modules. */
import type { RequestObserver } from '../../telemetry/observer.js';
import type { PipelineModule } from '../stages.js';

export function observe(name: string, observer: RequestObserver): PipelineModule {
  return { name, afterFinish: (record) => observer.onRequest(record) };
}
